// Fusion of one test scale's network outputs on the device (numpy reference:
// swahr_infer.fusion.fuse / scale_heatmaps / scale_tags).
//
// Projection is bilinear with half-pixel centres (cv2.resize INTER_LINEAR, torch
// align_corners=False): source position (X + 0.5) * scale - 0.5 computed as cv2 does (double,
// then float32), clamped to the map, horizontal lerp first, then vertical.  The mirror's maps
// are read flipped back along W and with their joint channels permuted by ``flip_index``.

struct Taps {
    int x0, x1, y0, y1;
    float ax0, ax1, ay0, ay1;  // weights of x0, x1, y0, y1
};

__device__ __forceinline__ void axis_taps(int dst, double scale, int size, int& i0, int& i1,
                                          float& a0, float& a1) {
    float f = (float)__dsub_rn(__dmul_rn((double)dst + 0.5, scale), 0.5);
    float fl = floorf(f);
    int i = (int)fl;
    f = __fsub_rn(f, fl);
    if (i < 0) { f = 0.0f; i = 0; }
    if (i >= size - 1) { f = 0.0f; i = size - 1; }
    i0 = i;
    i1 = i + 1 < size ? i + 1 : size - 1;
    a0 = __fsub_rn(1.0f, f);
    a1 = f;
}

__device__ __forceinline__ Taps taps_at(int X, int Y, double scale_x, double scale_y, int h, int w) {
    Taps t;
    axis_taps(X, scale_x, w, t.x0, t.x1, t.ax0, t.ax1);
    axis_taps(Y, scale_y, h, t.y0, t.y1, t.ay0, t.ay1);
    return t;
}

__device__ __forceinline__ float lerp2(float c00, float c01, float c10, float c11, const Taps& t) {
    float r0 = __fadd_rn(__fmul_rn(c00, t.ax0), __fmul_rn(c01, t.ax1));
    float r1 = __fadd_rn(__fmul_rn(c10, t.ax0), __fmul_rn(c11, t.ax1));
    return __fadd_rn(__fmul_rn(r0, t.ay0), __fmul_rn(r1, t.ay1));
}

// Heatmaps of one scale into ``out`` [K, H, W]:
//   flip: value at a map pixel = (image[k] + mirror[flip_index[k]] flipped back) * 0.5, the
//         CPU order (mean at network resolution, then projection);
//   accumulate: add to what ``out`` holds (later scales, descending order);
//   divisor > 0: divide the result by it (the last scale: the number of scales).
// hm: [N, K, h, w] network heatmaps (N = 2 with flip).  One thread per output pixel and joint.
extern "C" __global__ void __launch_bounds__(256)
project_heatmaps(const float* __restrict__ hm, int K, int h, int w,
                 const int* __restrict__ flip_index, int flip,
                 float* __restrict__ out, int H, int W, double scale_x, double scale_y,
                 int accumulate, float divisor) {
    int X = blockIdx.x * blockDim.x + threadIdx.x;
    int Y = blockIdx.y * blockDim.y + threadIdx.y;
    int k = blockIdx.z;
    if (X >= W || Y >= H) return;
    Taps t = taps_at(X, Y, scale_x, scale_y, h, w);
    long long plane = (long long)h * w;
    const float* a = hm + (long long)k * plane;
    float c00 = a[t.y0 * w + t.x0], c01 = a[t.y0 * w + t.x1];
    float c10 = a[t.y1 * w + t.x0], c11 = a[t.y1 * w + t.x1];
    if (flip) {
        const float* b = hm + ((long long)K + flip_index[k]) * plane;  // item 1, channel fi[k]
        int m0 = w - 1 - t.x0, m1 = w - 1 - t.x1;
        c00 = __fmul_rn(__fadd_rn(c00, b[t.y0 * w + m0]), 0.5f);
        c01 = __fmul_rn(__fadd_rn(c01, b[t.y0 * w + m1]), 0.5f);
        c10 = __fmul_rn(__fadd_rn(c10, b[t.y1 * w + m0]), 0.5f);
        c11 = __fmul_rn(__fadd_rn(c11, b[t.y1 * w + m1]), 0.5f);
    }
    float v = lerp2(c00, c01, c10, c11, t);
    long long o = ((long long)k * H + Y) * W + X;
    if (accumulate) v = __fadd_rn(out[o], v);
    if (divisor > 0.0f) v = __fdiv_rn(v, divisor);
    out[o] = v;
}

// Tag maps of one scale into ``out`` [K, H, W, N]: [..., 0] the image's, [..., 1] (with flip)
// the mirror's flipped back and permuted.  tg: [N, K, h, w].
extern "C" __global__ void __launch_bounds__(256)
project_tags(const float* __restrict__ tg, int K, int h, int w, int n,
             const int* __restrict__ flip_index,
             float* __restrict__ out, int H, int W, double scale_x, double scale_y) {
    int X = blockIdx.x * blockDim.x + threadIdx.x;
    int Y = blockIdx.y * blockDim.y + threadIdx.y;
    int k = blockIdx.z;
    if (X >= W || Y >= H) return;
    Taps t = taps_at(X, Y, scale_x, scale_y, h, w);
    long long plane = (long long)h * w;
    long long o = (((long long)k * H + Y) * W + X) * n;
    const float* a = tg + (long long)k * plane;
    out[o] = lerp2(a[t.y0 * w + t.x0], a[t.y0 * w + t.x1],
                   a[t.y1 * w + t.x0], a[t.y1 * w + t.x1], t);
    if (n > 1) {
        const float* b = tg + ((long long)K + flip_index[k]) * plane;
        int m0 = w - 1 - t.x0, m1 = w - 1 - t.x1;
        out[o + 1] = lerp2(b[t.y0 * w + m0], b[t.y0 * w + m1],
                           b[t.y1 * w + m0], b[t.y1 * w + m1], t);
    }
}

// flag[0] = 1 when any of the n values is NaN or infinite (all exponent bits set).
extern "C" __global__ void __launch_bounds__(256)
flag_nonfinite(const float* __restrict__ a, long long n, int* __restrict__ flag) {
    long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        if ((__float_as_uint(a[i]) & 0x7f800000u) == 0x7f800000u) {
            flag[0] = 1;
            return;
        }
    }
}
