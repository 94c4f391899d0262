// Refine on the device: for each query (a person's mean tag and one of its missing joints),
// the first maximum over the whole map of
//
//     hm[j] - round(|| tags[j] - mean ||)
//
// (numpy reference: swahr_infer.decode.refine.TagArgmax / refine_people; np.argmax's rule,
// the smallest flat index among equal maxima).  The objective is the official float32
// expression term by term: differences, squares, a left-to-right sum over tag dimensions,
// a correctly rounded sqrt, round half to even, one subtraction; no contractions.
//
// Launch 1 (tag_argmax): blocks of (pixel chunk, query); each block reduces its chunk to one
// 64-bit key (order-preserving bits of the value high, complemented flat index low) and
// atomicMax-es it into best[query].  Launch 2 (tag_argmax_finish): per query the position,
// the heatmap value there and the adjust shifts, for the host to fill the joint.

#define THREADS 256
#define PER_THREAD 16
#define CHUNK (THREADS * PER_THREAD)

typedef unsigned long long u64;

// Unsigned integers that order like the floats (finite values; -0 is taken as +0 so that
// equal values tie and the flat index decides, as in np.argmax).
__device__ __forceinline__ unsigned int ordered_bits(float v) {
    if (v == 0.0f) v = 0.0f;
    unsigned int u = __float_as_uint(v);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

__device__ __forceinline__ float from_ordered(unsigned int u) {
    return __uint_as_float((u & 0x80000000u) ? (u & 0x7fffffffu) : ~u);
}

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
    }
    return v;  // valid in thread 0
}

//   hm:     float32 [K, H, W]; tags: float32 [K, H, W, T]
//   joint:  int32 [Q]; mean: float32 [Q, T]
//   best:   u64 [Q], zeroed before the launch
extern "C" __global__ void __launch_bounds__(THREADS)
tag_argmax(const float* __restrict__ hm, const float* __restrict__ tags, int H, int W, int T,
           const int* __restrict__ joint, const float* __restrict__ mean,
           u64* __restrict__ best) {
    __shared__ u64 scratch[32];
    int q = blockIdx.y;
    int j = joint[q];
    long long hw = (long long)H * W;
    const float* plane = hm + (long long)j * hw;
    const float* tg = tags + (long long)j * hw * T;
    const float* m = mean + (long long)q * T;
    long long base = (long long)blockIdx.x * CHUNK;
    u64 top = 0ull;
    for (int i = 0; i < PER_THREAD; ++i) {
        long long p = base + threadIdx.x + (long long)i * THREADS;
        if (p >= hw) break;
        const float* t = tg + p * T;
        float d = __fsub_rn(t[0], m[0]);
        float sum = __fmul_rn(d, d);
        for (int c = 1; c < T; ++c) {
            d = __fsub_rn(t[c], m[c]);
            sum = __fadd_rn(sum, __fmul_rn(d, d));
        }
        float score = __fsub_rn(plane[p], rintf(__fsqrt_rn(sum)));
        u64 key = ((u64)ordered_bits(score) << 32) | (u64)(~(unsigned int)p);
        top = key > top ? key : top;
    }
    top = block_max(top, scratch);
    if (threadIdx.x == 0) atomicMax(best + q, top);
}

//   out: float32 [Q, 6]: x, y, heatmap value at (x, y), dx, dy, objective value
extern "C" __global__ void
tag_argmax_finish(const u64* __restrict__ best, const int* __restrict__ joint, int Q,
                  const float* __restrict__ hm, int H, int W, float* __restrict__ out) {
    int q = blockIdx.x * blockDim.x + threadIdx.x;
    if (q >= Q) return;
    u64 key = best[q];
    unsigned int flat = ~(unsigned int)(key & 0xffffffffull);
    int y = (int)(flat / (unsigned int)W), x = (int)(flat - (unsigned int)y * W);
    const float* plane = hm + (long long)joint[q] * H * W;
    float right = plane[y * W + min(x + 1, W - 1)], left = plane[y * W + max(x - 1, 0)];
    float down = plane[min(y + 1, H - 1) * W + x], up = plane[max(y - 1, 0) * W + x];
    float* row = out + (long long)q * 6;
    row[0] = (float)x;
    row[1] = (float)y;
    row[2] = plane[y * W + x];
    row[3] = right > left ? 0.25f : -0.25f;
    row[4] = down > up ? 0.25f : -0.25f;
    row[5] = from_ordered((unsigned int)(key >> 32));
}
