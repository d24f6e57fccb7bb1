// The element-wise kernels of the framework's ops: the exact GELU, seeded dropout and LayerNorm, with their gradients.
// Each exported function checks its arguments, then runs a loop compiled for AVX2 and for baseline x86-64
// (GELU, dropout and LayerNorm for AVX-512 too; native.h).
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "native.h"

// Φ(x), the standard normal CDF, through erf(x/√2) by Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7), given
// e = exp(−x²/2), which the gradient shares with the density φ(x) = e/√(2π).
static inline float normal_cdf(float x, float e) {
  const float a = fabsf(x) * 0.707106781f;
  const float t = 1.0f / (1.0f + 0.3275911f * a);
  const float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
  return 0.5f * (1.0f + copysignf(1.0f - poly * e, x));
}

VECTORISED_WIDE static void gelu_values(const float* x, float* y, size_t length) {
  for (size_t i = 0; i < length; i++) y[i] = x[i] * normal_cdf(x[i], exp_nonpositive(-0.5f * x[i] * x[i]));
}

VECTORISED_WIDE static void gelu_grad_values(const float* x, const float* dy, float* dx, size_t length) {
  for (size_t i = 0; i < length; i++) {
    const float e = exp_nonpositive(-0.5f * x[i] * x[i]);
    dx[i] = dy[i] * (normal_cdf(x[i], e) + x[i] * 0.398942280f * e);
  }
}

VECTORISED_WIDE void dropout_values(const float* x, float* out, size_t length, size_t first, uint32_t seed, uint32_t last_kept, float scale) {
  for (size_t i = 0; i < length; i++) out[i] = mulberry32_draw(seed, (uint32_t)(first + i)) <= last_kept ? x[i] * scale : 0.0f;
}

void dropout_parameters(double rate, uint32_t* last_kept, float* scale) {
  // Draws are integers: draw < (1 - rate)·2^32 exactly when draw <= ceil((1 - rate)·2^32) - 1, which is >= 0.
  *last_kept = (uint32_t)((uint64_t)ceil((1 - rate) * 4294967296.0) - 1);
  *scale = (float)(1 / (1 - rate));
}

// Each kernel's loop runs over parts of its elements (rows for LayerNorm) on the BLAS's threads: one call's arrays
// and constants, and the loop over elements begin … end - 1 (which cannot fail).
#define GRAIN (64 * 1024)  // elements a thread takes at least: on fewer, starting it costs more than it saves

typedef struct {
  const float *x, *dy;  // dy: the gradient's only
  float* out;
} GeluCall;

static bool gelu_part(void* context, size_t begin, size_t end) {
  const GeluCall* c = context;
  gelu_values(c->x + begin, c->out + begin, end - begin);
  return true;
}

static bool gelu_grad_part(void* context, size_t begin, size_t end) {
  const GeluCall* c = context;
  gelu_grad_values(c->x + begin, c->dy + begin, c->out + begin, end - begin);
  return true;
}

typedef struct {
  const float* x;
  float* out;
  uint32_t seed, last_kept;
  float scale;
} DropoutCall;

static bool dropout_part(void* context, size_t begin, size_t end) {
  const DropoutCall* c = context;
  dropout_values(c->x + begin, c->out + begin, end - begin, begin, c->seed, c->last_kept, c->scale);
  return true;
}

// Sums along a row run in this many float lanes: one AVX-512 register, two AVX2 ones (the loops vectorise).
#define LANES 16

// Mean and 1/sqrt(variance + epsilon) of one row, summed in float lanes and combined in double: two passes, so the
// variance does not cancel.
static inline void row_statistics(const float* x, size_t size, double epsilon, float* mean, float* inverse_deviation) {
  float lanes[LANES] = {0};
  size_t j = 0;
  for (; j + LANES <= size; j += LANES) {
    for (int u = 0; u < LANES; u++) lanes[u] += x[j + u];
  }
  double sum = 0;
  for (int u = 0; u < LANES; u++) sum += lanes[u];
  for (; j < size; j++) sum += x[j];
  const float m = (float)(sum / (double)size);
  float squares[LANES] = {0};
  for (j = 0; j + LANES <= size; j += LANES) {
    for (int u = 0; u < LANES; u++) squares[u] += (x[j + u] - m) * (x[j + u] - m);
  }
  double total = 0;
  for (int u = 0; u < LANES; u++) total += squares[u];
  for (; j < size; j++) total += (double)(x[j] - m) * (x[j] - m);
  *mean = m;
  *inverse_deviation = (float)(1 / sqrt(total / (double)size + epsilon));
}

// The row of x + residual that LayerNorm works on: `x_row` itself without a residual, else the sum written into
// `out_row`, which the caller then overwrites element by element (so the sum is never stored beyond the row).
static inline const float* summed_row(const float* x_row, const float* residual_row, float* out_row, size_t size) {
  if (residual_row == NULL) return x_row;
  for (size_t j = 0; j < size; j++) out_row[j] = x_row[j] + residual_row[j];
  return out_row;
}

VECTORISED_WIDE static void layer_norm_rows(const float* x, const float* residual, const float* gamma, const float* beta, float* out, size_t length,
                                            size_t size, double epsilon) {
  for (size_t start = 0; start < length; start += size) {
    const float* row = summed_row(x + start, residual == NULL ? NULL : residual + start, out + start, size);
    float mean, inverse_deviation;
    row_statistics(row, size, epsilon, &mean, &inverse_deviation);
    for (size_t j = 0; j < size; j++) out[start + j] = (row[j] - mean) * inverse_deviation * gamma[j] + beta[j];
  }
}

// dL/dx = (1/σ)·(g − mean(g) − x̂·mean(g·x̂)) per row, with g = dy·gamma and x̂ the normalised row (of x + residual).
VECTORISED_WIDE static void layer_norm_grad_rows(const float* x, const float* residual, const float* gamma, const float* dy, float* out, size_t length,
                                                 size_t size, double epsilon) {
  for (size_t start = 0; start < length; start += size) {
    const float *row = summed_row(x + start, residual == NULL ? NULL : residual + start, out + start, size), *row_dy = dy + start;
    float mean, inverse_deviation;
    row_statistics(row, size, epsilon, &mean, &inverse_deviation);
    float sum_g[LANES] = {0}, sum_gx[LANES] = {0};
    size_t j = 0;
    for (; j + LANES <= size; j += LANES) {
      for (int u = 0; u < LANES; u++) {
        const float g = row_dy[j + u] * gamma[j + u];
        sum_g[u] += g;
        sum_gx[u] += g * (row[j + u] - mean) * inverse_deviation;
      }
    }
    double total_g = 0, total_gx = 0;
    for (int u = 0; u < LANES; u++) {
      total_g += sum_g[u];
      total_gx += sum_gx[u];
    }
    for (; j < size; j++) {
      const float g = row_dy[j] * gamma[j];
      total_g += g;
      total_gx += g * (row[j] - mean) * inverse_deviation;
    }
    const float mean_g = (float)(total_g / (double)size), mean_gx = (float)(total_gx / (double)size);
    for (j = 0; j < size; j++) {
      out[start + j] = inverse_deviation * (row_dy[j] * gamma[j] - mean_g - (row[j] - mean) * inverse_deviation * mean_gx);
    }
  }
}

typedef struct {
  const float *x, *residual, *gamma, *third;  // residual: NULL for none; third: beta forward, dy backward
  float* out;
  size_t size;  // row length
  double epsilon;
} LayerNormCall;

static bool layer_norm_part(void* context, size_t begin, size_t end) {
  const LayerNormCall* c = context;
  const size_t start = begin * c->size;
  layer_norm_rows(c->x + start, c->residual == NULL ? NULL : c->residual + start, c->gamma, c->third, c->out + start, (end - begin) * c->size,
                  c->size, c->epsilon);
  return true;
}

static bool layer_norm_grad_part(void* context, size_t begin, size_t end) {
  const LayerNormCall* c = context;
  const size_t start = begin * c->size;
  layer_norm_grad_rows(c->x + start, c->residual == NULL ? NULL : c->residual + start, c->gamma, c->third + start, c->out + start,
                       (end - begin) * c->size, c->size, c->epsilon);
  return true;
}

// gelu(x, y): y = x·Φ(x), the exact (erf) GELU.
napi_value gelu(napi_env env, napi_callback_info info) {
  static const char* const names[] = {"x", "y"};
  float* arrays[2];
  size_t lengths[2];
  if (kernel_arguments(env, info, "gelu", 2, names, arrays, lengths, 0, NULL) && same_lengths(env, "gelu: expected x and y of one length", lengths, 2)) {
    GeluCall call = {arrays[0], NULL, arrays[1]};
    (void)parallel_for(lengths[0], GRAIN, gelu_part, &call);
  }
  return NULL;
}

// geluGrad(x, dy, dx): dx = dy·(Φ(x) + x·φ(x)).
napi_value gelu_grad(napi_env env, napi_callback_info info) {
  static const char* const names[] = {"x", "dy", "dx"};
  float* arrays[3];
  size_t lengths[3];
  if (kernel_arguments(env, info, "geluGrad", 3, names, arrays, lengths, 0, NULL) &&
      same_lengths(env, "geluGrad: expected x, dy and dx of one length", lengths, 3)) {
    GeluCall call = {arrays[0], arrays[1], arrays[2]};
    (void)parallel_for(lengths[0], GRAIN, gelu_grad_part, &call);
  }
  return NULL;
}

// dropout(x, out, rate, seed): out[i] = x[i]·fround(1 / (1 - rate)) where the i-th draw of a mulberry32 generator
// started at `seed` is below (1 - rate)·2^32, else 0: bit for bit applyDropoutMask in src/ops/dropout.ts.
napi_value dropout(napi_env env, napi_callback_info info) {
  static const char* const names[] = {"x", "out"};
  float* arrays[2];
  size_t lengths[2];
  double numbers[2];
  if (!kernel_arguments(env, info, "dropout", 2, names, arrays, lengths, 2, numbers) ||
      !same_lengths(env, "dropout: expected x and out of one length", lengths, 2)) {
    return NULL;
  }
  const double rate = numbers[0];
  if (!(rate >= 0 && rate < 1)) return fail(env, "dropout: expected a rate in [0, 1)");
  DropoutCall call = {arrays[0], arrays[1], (uint32_t)(int64_t)numbers[1], 0, 0};
  dropout_parameters(rate, &call.last_kept, &call.scale);
  (void)parallel_for(lengths[0], GRAIN, dropout_part, &call);
  return NULL;
}

// `restrict`: the outputs are new tensors, and gcc gives up on the seven-way overlap checks otherwise.
VECTORISED static void adamw_values(const float* restrict p, const float* restrict m, const float* restrict v, const float* restrict g,
                                    float* restrict p_out, float* restrict m_out, float* restrict v_out, size_t length, const float* restrict c) {
  // c: decay, β1, 1 − β1, β2, 1 − β2, √(1 − β2ᵗ), ε, step size; the same float32 operations, in the same order, as
  // the tfjs ops of AdamW.apply, so the result is the same to the bit.
  for (size_t i = 0; i < length; i++) {
    const float decayed = p[i] * c[0];
    const float first = m[i] * c[1] + g[i] * c[2];
    const float second = v[i] * c[3] + (g[i] * g[i]) * c[4];
    const float denominator = sqrtf(second) / c[5] + c[6];
    m_out[i] = first;
    v_out[i] = second;
    p_out[i] = decayed - (first / denominator) * c[7];
  }
}

typedef struct {
  float* const* arrays;  // p, m, v, g, pOut, mOut, vOut
  const float* constants;
} AdamWCall;

static bool adamw_part(void* context, size_t begin, size_t end) {
  const AdamWCall* c = context;
  float* const* a = c->arrays;
  adamw_values(a[0] + begin, a[1] + begin, a[2] + begin, a[3] + begin, a[4] + begin, a[5] + begin, a[6] + begin, end - begin, c->constants);
  return true;
}

// adamW(p, m, v, g, pOut, mOut, vOut, decay, beta1, beta2, secondCorrection, epsilon, stepSize): one AdamW update
// (src/training/adamw.ts) in one pass: p·decay − stepSize·m'/(√v'/secondCorrection + ε) with the new moments m', v'.
napi_value adamw(napi_env env, napi_callback_info info) {
  static const char* const names[] = {"p", "m", "v", "g", "pOut", "mOut", "vOut"};
  float* arrays[7];
  size_t lengths[7];
  double numbers[6];
  if (!kernel_arguments(env, info, "adamW", 7, names, arrays, lengths, 6, numbers) ||
      !same_lengths(env, "adamW: expected p, m, v, g and the outputs of one length", lengths, 7)) {
    return NULL;
  }
  const float constants[8] = {(float)numbers[0], (float)numbers[1], (float)(1 - numbers[1]), (float)numbers[2], (float)(1 - numbers[2]),
                              (float)numbers[3], (float)numbers[4], (float)numbers[5]};
  AdamWCall call = {arrays, constants};
  (void)parallel_for(lengths[0], GRAIN, adamw_part, &call);
  return NULL;
}

// Reads the arguments (x, residual, gamma, third, out, epsilon) of a LayerNorm kernel, x, out and a residual (empty
// for none) whole rows of gamma's length and the third array (`names[3]`) of gamma's length when `third_per_row`, else
// of x's; then runs `part` over the rows.
static napi_value layer_norm_kernel(napi_env env, napi_callback_info info, const char* function_name, const char* const* names, bool third_per_row,
                                    bool (*part)(void* context, size_t begin, size_t end)) {
  float* arrays[5];
  size_t lengths[5];
  double epsilon;
  if (!kernel_arguments(env, info, function_name, 5, names, arrays, lengths, 1, &epsilon)) return NULL;
  const size_t length = lengths[0], size = lengths[2];
  if (size == 0 || (lengths[1] != 0 && lengths[1] != length) || lengths[3] != (third_per_row ? size : length) || lengths[4] != length ||
      length % size != 0) {
    char message[200];
    snprintf(message, sizeof message, "%s: expected gamma%s of the row length, x%s and out of whole rows, and residual empty or as long as x",
             function_name, third_per_row ? " and beta" : "", third_per_row ? "" : ", dy");
    return fail(env, message);
  }
  LayerNormCall call = {arrays[0], lengths[1] == 0 ? NULL : arrays[1], arrays[2], arrays[3], arrays[4], size, epsilon};
  (void)parallel_for(length / size, GRAIN / size + 1, part, &call);
  return NULL;
}

// layerNorm(x, residual, gamma, beta, out, epsilon): each row of x + residual (or of x, residual empty; rows of gamma's
// length) normalised, scaled and shifted.
napi_value layer_norm(napi_env env, napi_callback_info info) {
  static const char* const names[] = {"x", "residual", "gamma", "beta", "out"};
  return layer_norm_kernel(env, info, "layerNorm", names, true, layer_norm_part);
}

// layerNormGrad(x, residual, gamma, dy, out, epsilon): out = dL/dx of layerNorm, which is also dL/dresidual.
napi_value layer_norm_grad(napi_env env, napi_callback_info info) {
  static const char* const names[] = {"x", "residual", "gamma", "dy", "out"};
  return layer_norm_kernel(env, info, "layerNormGrad", names, false, layer_norm_grad_part);
}
