// Fused preprocessing: one image, one test scale, one launch.
//
// For every pixel (x, y) of the network input: inverse-affine bilinear sample of the uint8
// image exactly as cv2.warpAffine(INTER_LINEAR, BORDER_CONSTANT 0) computes it, then the
// normalisation table look-up ((v / 255 - mean) / std, float32, precomputed on the host),
// channel order to the model's RGB, and the CHW store into batch item 0 and - mirrored along
// W - into item 1 (the flip test's second image).
//
// Numpy references: swahr_infer.preprocess.warp + to_batch (OpenCV itself), and
// swahr_infer.gpu.preprocess.warp_reference (the two OpenCV algorithms below, in numpy).
//
// OpenCV has two uint8 bilinear warps, chosen by its version, and this kernel reproduces both
// (``fixed_point`` selects; the host probes which one the installed cv2 uses):
//  * fixed point (OpenCV 2.x .. 4.x): the source position is M * (x, y) rounded to 1/1024
//    (AB_BITS = 10), then to 1/32 (INTER_BITS = 5); weights are integer products of the 1/32
//    fractions (INTER_REMAP_COEF_BITS = 15), result rounded to nearest, ties up.
//  * float (the warp kernels of OpenCV 5 / PR 25984): the source position is
//    fma(M0, x, float(y * M1 + M2)) in float32, the fractions are float32 and the two lerps
//    use fma; the result is rounded to nearest even.
// No includes: NVRTC compiles this without a host toolchain.

__device__ __forceinline__ float fetch(const unsigned char* __restrict__ img, int h, int w,
                                       int stride, int ix, int iy, int c) {
    // BORDER_CONSTANT with value 0 for corners outside the image
    if ((unsigned)ix < (unsigned)w && (unsigned)iy < (unsigned)h)
        return (float)img[(long long)iy * stride + ix * 3 + c];
    return 0.0f;
}

__device__ __forceinline__ int fetch_i(const unsigned char* __restrict__ img, int h, int w,
                                       int stride, int ix, int iy, int c) {
    if ((unsigned)ix < (unsigned)w && (unsigned)iy < (unsigned)h)
        return (int)img[(long long)iy * stride + ix * 3 + c];
    return 0;
}

// Levels (0..255) of the three image channels at output pixel (x, y), float algorithm.
__device__ void sample_float(const unsigned char* __restrict__ img, int h, int w, int stride,
                             double m0, double m1, double m2, double m3, double m4, double m5,
                             int x, int y, int level[3]) {
    // float(y * M1 + M2) in double without contraction, then one fma per coordinate
    float mx = (float)__dadd_rn(__dmul_rn((double)y, m1), m2);
    float my = (float)__dadd_rn(__dmul_rn((double)y, m4), m5);
    float sx = __fmaf_rn((float)m0, (float)x, mx);
    float sy = __fmaf_rn((float)m3, (float)x, my);
    float fx0 = floorf(sx), fy0 = floorf(sy);
    int ix = (int)fx0, iy = (int)fy0;
    float ax = __fsub_rn(sx, fx0), ay = __fsub_rn(sy, fy0);
    // a position whose whole 2x2 neighbourhood is outside gives the border value
    if ((unsigned)(ix + 1) >= (unsigned)(w + 1) || (unsigned)(iy + 1) >= (unsigned)(h + 1)) {
        level[0] = level[1] = level[2] = 0;
        return;
    }
    for (int c = 0; c < 3; ++c) {
        float p00 = fetch(img, h, w, stride, ix, iy, c);
        float p01 = fetch(img, h, w, stride, ix + 1, iy, c);
        float p10 = fetch(img, h, w, stride, ix, iy + 1, c);
        float p11 = fetch(img, h, w, stride, ix + 1, iy + 1, c);
        float v0 = __fmaf_rn(ax, __fsub_rn(p01, p00), p00);
        float v1 = __fmaf_rn(ax, __fsub_rn(p11, p10), p10);
        float v = __fmaf_rn(ay, __fsub_rn(v1, v0), v0);
        int q = __float2int_rn(v);  // round half to even, as cvRound
        level[c] = q < 0 ? 0 : (q > 255 ? 255 : q);
    }
}

// Levels at output pixel (x, y), fixed-point algorithm.
__device__ void sample_fixed(const unsigned char* __restrict__ img, int h, int w, int stride,
                             double m0, double m1, double m2, double m3, double m4, double m5,
                             int x, int y, int level[3]) {
    const double ab_scale = 1024.0;  // 1 << AB_BITS
    const int round_delta = 16;      // AB_SCALE / INTER_TAB_SIZE / 2
    int x0 = __double2int_rn(__dmul_rn(__dadd_rn(__dmul_rn(m1, (double)y), m2), ab_scale))
             + round_delta;
    int y0 = __double2int_rn(__dmul_rn(__dadd_rn(__dmul_rn(m4, (double)y), m5), ab_scale))
             + round_delta;
    int adelta = __double2int_rn(__dmul_rn(__dmul_rn(m0, (double)x), ab_scale));
    int bdelta = __double2int_rn(__dmul_rn(__dmul_rn(m3, (double)x), ab_scale));
    int X = (x0 + adelta) >> 5;  // AB_BITS - INTER_BITS
    int Y = (y0 + bdelta) >> 5;
    int ix = X >> 5, iy = Y >> 5;  // INTER_BITS
    int fx = X & 31, fy = Y & 31;
    if (ix >= w || ix + 1 < 0 || iy >= h || iy + 1 < 0) {
        level[0] = level[1] = level[2] = 0;
        return;
    }
    // BilinearTab_i: (32 - f) * (32 - g) * 32 etc., an exact split of 1 << 15
    int w00 = (32 - fx) * (32 - fy), w01 = fx * (32 - fy);
    int w10 = (32 - fx) * fy, w11 = fx * fy;
    for (int c = 0; c < 3; ++c) {
        int acc = fetch_i(img, h, w, stride, ix, iy, c) * w00
                + fetch_i(img, h, w, stride, ix + 1, iy, c) * w01
                + fetch_i(img, h, w, stride, ix, iy + 1, c) * w10
                + fetch_i(img, h, w, stride, ix + 1, iy + 1, c) * w11;
        int q = (acc * 32 + (1 << 14)) >> 15;
        level[c] = q < 0 ? 0 : (q > 255 ? 255 : q);
    }
}

// One thread per output pixel.
//   img:    uint8 [h, w, 3] (row stride ``stride`` bytes), BGR when ``bgr`` else RGB
//   inv:    the output -> image affine m0..m5 (cv2.invertAffineTransform of the warp)
//   table:  float32 [3, 256], row c = normalised value of each level for model channel c (RGB)
//   out:    float32 [1 or 2, 3, out_h, out_w]; item 1 (when ``flip``) is item 0 mirrored in W
extern "C" __global__ void __launch_bounds__(256)
warp_normalize(const unsigned char* __restrict__ img, int h, int w, int stride,
               double m0, double m1, double m2, double m3, double m4, double m5,
               const float* __restrict__ table, float* __restrict__ out,
               int out_h, int out_w, int bgr, int flip, int fixed_point) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= out_w || y >= out_h) return;
    int level[3];
    if (fixed_point)
        sample_fixed(img, h, w, stride, m0, m1, m2, m3, m4, m5, x, y, level);
    else
        sample_float(img, h, w, stride, m0, m1, m2, m3, m4, m5, x, y, level);
    long long plane = (long long)out_h * out_w;
    long long pix = (long long)y * out_w + x;
    long long mirror = (long long)y * out_w + (out_w - 1 - x);
    for (int m = 0; m < 3; ++m) {  // model channel m (R, G, B) reads image channel src
        int src = bgr ? 2 - m : m;
        float v = table[m * 256 + level[src]];
        out[m * plane + pix] = v;
        if (flip) out[(3 + m) * plane + mirror] = v;
    }
}
