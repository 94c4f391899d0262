// Heatmap peaks (NMS), top-k per joint and the tags at the peaks, in two launches
// (numpy reference: swahr_infer.decode.nms.find_candidates).
//
// A pixel is a candidate when its value is above the detection threshold and >= every
// in-bounds value of its (2r+1)^2 window (a max filter with -inf padding keeps exactly these).
// Candidates are ranked by value descending, then flat index ascending, the CPU decoder's rule.
// Both go into one 64-bit key, value bits high (positive floats order like their bit patterns)
// and the complemented flat index low, so "larger key" is "ranks first" and no two keys tie.
//
// Launch 1 (nms_tiles): one block per (tile of TILE pixels, joint).  Each thread loads its
// PER_THREAD pixels first (independent loads in flight, not one round trip per pixel), then
// tests them; the block's candidates are collected in shared memory, its k best (a bitonic
// sort when there are more than k) are appended to the joint's list (so the list never holds
// more than tiles * k keys) and the candidate count is added to the joint's total.
// Launch 2 (nms_select): one block per joint; the joint's list sorted in shared memory (bitonic,
// when it holds at most SORT_MAX keys; else k rounds of a block-wide max), then one output row
// per candidate: x, y, value, the adjust shifts dx, dy (+-0.25 towards the larger horizontal /
// vertical neighbour, decode.refine.adjust_joints' rule, -0.25 on ties), tags.
// A sort costs log2(n)^2 / 2 barriers instead of k block reductions of three barriers each.

// Tunable (benchmarks/gpu_bench.py compiles variants with -D; swahr_infer.gpu.nms passes the
// same values to its launches): threads and pixels per thread of the tile launch, and the
// minimum resident blocks per SM it is compiled for (which caps its registers). Defaults: the
// fastest shape of five measured on an H200 (docs/gpu.md: 20.8 us queued on people maps against
// 22.3 for 16 pixels a thread with no register cap, 183 against 218 us on noise maps).
#ifndef THREADS
#define THREADS 256
#endif
#ifndef PER_THREAD
#define PER_THREAD 8
#endif
#ifndef MIN_BLOCKS
#define MIN_BLOCKS 6
#endif
#define TILE (THREADS * PER_THREAD)
#define SELECT_THREADS 1024
#define SORT_MAX 4096  // keys the second launch sorts in shared memory (32 KB)

typedef unsigned long long u64;

__device__ __forceinline__ u64 make_key(float v, unsigned int flat) {
    return ((u64)__float_as_uint(v) << 32) | (u64)(~flat);
}

// The largest of every thread's ``v``, returned to all threads of the block.
__device__ u64 block_max(u64 v, u64* scratch) {
    for (int o = 16; o > 0; o >>= 1) {
        u64 other = __shfl_down_sync(0xffffffffu, v, o);
        v = other > v ? other : v;
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < (int)(blockDim.x >> 5) ? scratch[lane] : 0ull;
        for (int o = 16; o > 0; o >>= 1) {
            u64 other = __shfl_down_sync(0xffffffffu, v, o);
            v = other > v ? other : v;
        }
        if (lane == 0) scratch[32] = v;
    }
    __syncthreads();
    v = scratch[32];
    __syncthreads();  // scratch is free again
    return v;
}

// The ``k`` largest of keys[0..n) in descending order into out[]; returns how many (<= k).
// Every thread of the block must call it.  Keys are unique and non-zero.
__device__ int select_top(const u64* keys, int n, int k, u64* out, u64* scratch) {
    u64 below = ~0ull;
    int r = 0;
    for (; r < k; ++r) {
        u64 best = 0ull;
        for (int i = threadIdx.x; i < n; i += blockDim.x) {
            u64 key = keys[i];
            if (key < below && key > best) best = key;
        }
        best = block_max(best, scratch);
        if (best == 0ull) break;
        if (threadIdx.x == 0) out[r] = best;
        below = best;
    }
    return r;
}

// Sort a[0..n) descending in place (n a power of two; every thread of the block calls it).
// Bitonic network: for each merge size, compare-exchange pairs at halving strides.
__device__ void sort_desc(u64* a, int n) {
    for (int size = 2; size <= n; size <<= 1) {
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            for (int i = threadIdx.x; i < (n >> 1); i += blockDim.x) {
                int lo = 2 * i - (i & (stride - 1)), hi = lo + stride;
                bool desc = (lo & size) == 0;  // the last merge (size == n) is all descending
                u64 x = a[lo], y = a[hi];
                if ((x < y) == desc) {
                    a[lo] = y;
                    a[hi] = x;
                }
            }
            __syncthreads();
        }
    }
}

// The smallest power of two >= n (n >= 1).
__device__ __forceinline__ int pow2_ceil(int n) {
    int p = 1;
    while (p < n) p <<= 1;
    return p;
}

// True when v (> threshold, at y, x) is >= every in-bounds value of its window.
__device__ __forceinline__ bool is_peak(const float* __restrict__ plane, int H, int W, int y,
                                        int x, float v, int radius) {
    // the 4-neighbourhood rejects most pixels cheaply (clamped indices stay in the window)
    int xl = x > 0 ? x - 1 : 0, xr = x < W - 1 ? x + 1 : W - 1;
    int yu = y > 0 ? y - 1 : 0, yd = y < H - 1 ? y + 1 : H - 1;
    if (!(v >= plane[y * W + xl] && v >= plane[y * W + xr] && v >= plane[yu * W + x] &&
          v >= plane[yd * W + x]))
        return false;
    int y0 = max(y - radius, 0), y1 = min(y + radius, H - 1);
    int x0 = max(x - radius, 0), x1 = min(x + radius, W - 1);
    for (int yy = y0; yy <= y1; ++yy)
        for (int xx = x0; xx <= x1; ++xx)
            if (!(v >= plane[yy * W + xx])) return false;
    return true;
}

//   hm:     float32 [K, H, W] fused heatmaps
//   thr:    float32 threshold (values must be > thr; thr >= 0)
//   list:   u64 [K, capacity] per-joint candidate keys, capacity = gridDim.x * k
//   fill:   int32 [2, K]: row 0 list lengths, row 1 candidate totals (zeroed before launch)
extern "C" __global__ void __launch_bounds__(THREADS, MIN_BLOCKS)
nms_tiles(const float* __restrict__ hm, int K, int H, int W, float thr, int radius, int k,
          u64* __restrict__ list, int* __restrict__ fill) {
    __shared__ u64 keys[TILE];
    __shared__ int count;
    __shared__ int offset;
    int j = blockIdx.y;
    long long hw = (long long)H * W;
    const float* plane = hm + (long long)j * hw;
    long long base = (long long)blockIdx.x * TILE;
    if (threadIdx.x == 0) count = 0;
    __syncthreads();
    float v[PER_THREAD];
#pragma unroll
    for (int i = 0; i < PER_THREAD; ++i) {  // all loads first: PER_THREAD requests in flight
        long long p = base + threadIdx.x + (long long)i * THREADS;
        v[i] = p < hw ? plane[p] : thr;  // thr itself is never a candidate (strictly above)
    }
#pragma unroll
    for (int i = 0; i < PER_THREAD; ++i) {
        if (!(v[i] > thr)) continue;
        long long p = base + threadIdx.x + (long long)i * THREADS;
        int y = (int)(p / W), x = (int)(p - (long long)y * W);
        if (is_peak(plane, H, W, y, x, v[i], radius)) {
            int slot = atomicAdd(&count, 1);
            keys[slot] = make_key(v[i], (unsigned int)p);
        }
    }
    __syncthreads();
    int n = count;  // the same in every thread: the branches below are uniform
    if (n == 0) return;
    int keep = min(n, k);
    if (threadIdx.x == 0) {
        offset = atomicAdd(&fill[j], keep);
        atomicAdd(&fill[K + j], n);
    }
    __syncthreads();
    u64* dst = list + (long long)j * ((long long)gridDim.x * k) + offset;
    if (n <= k) {
        for (int i = threadIdx.x; i < n; i += THREADS) dst[i] = keys[i];
    } else {  // more candidates than k in this tile (plateaus, noise): its k best
        int padded = pow2_ceil(n);
        for (int i = n + threadIdx.x; i < padded; i += THREADS) keys[i] = 0ull;
        __syncthreads();
        sort_desc(keys, padded);
        for (int i = threadIdx.x; i < k; i += THREADS) dst[i] = keys[i];
    }
}

//   list, fill: from nms_tiles; capacity = tiles * k
//   tags:   float32 [K, H, W, T]
//   rows:   float32 [K, k, 5 + T]: x, y, value, dx, dy, tag[0..T); zeros past the count
//   counts: int32 [K]: candidates per joint, min(total, k)
// Launched with SELECT_THREADS threads per block; k <= SORT_MAX.
extern "C" __global__ void __launch_bounds__(SELECT_THREADS)
nms_select(const u64* __restrict__ list, const int* __restrict__ fill, int capacity,
           const float* __restrict__ hm, const float* __restrict__ tags, int K, int H, int W,
           int T, int k, float* __restrict__ rows, int* __restrict__ counts) {
    __shared__ u64 chosen[SORT_MAX];
    __shared__ u64 scratch[33];
    int j = blockIdx.x;
    const u64* keys = list + (long long)j * capacity;
    int n = fill[j], r;
    if (n <= SORT_MAX) {
        int padded = pow2_ceil(n > 0 ? n : 1);
        for (int i = threadIdx.x; i < padded; i += blockDim.x) chosen[i] = i < n ? keys[i] : 0ull;
        __syncthreads();
        sort_desc(chosen, padded);
        r = min(n, k);
    } else {  // very wide maps or large k: k block-wide maxima over the list in global memory
        r = select_top(keys, n, k, chosen, scratch);
    }
    __syncthreads();
    int width = 5 + T;
    const float* plane = hm + (long long)j * H * W;
    for (int i = threadIdx.x; i < k; i += blockDim.x) {
        float* row = rows + ((long long)j * k + i) * width;
        if (i >= r) {
            for (int c = 0; c < width; ++c) row[c] = 0.0f;
            continue;
        }
        u64 key = chosen[i];
        unsigned int flat = ~(unsigned int)(key & 0xffffffffull);
        int y = (int)(flat / (unsigned int)W), x = (int)(flat - (unsigned int)y * W);
        float right = plane[y * W + min(x + 1, W - 1)], left = plane[y * W + max(x - 1, 0)];
        float down = plane[min(y + 1, H - 1) * W + x], up = plane[max(y - 1, 0) * W + x];
        row[0] = (float)x;
        row[1] = (float)y;
        row[2] = __uint_as_float((unsigned int)(key >> 32));
        row[3] = right > left ? 0.25f : -0.25f;
        row[4] = down > up ? 0.25f : -0.25f;
        const float* tg = tags + (((long long)j * H + y) * W + x) * T;
        for (int t = 0; t < T; ++t) row[5 + t] = tg[t];
    }
    if (threadIdx.x == 0) counts[j] = min(fill[K + j], k);
}
