// Node-API add-on: batched single-precision matrix products through the system BLAS (cblas_sgemm), the argument
// helpers every kernel uses, and the module's registration. The kernels read and write Float32Arrays in place: the
// tfjs cpu backend's arrays or views of the wasm backend's heap. No copies.
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "native.h"

// Products with fewer multiply-adds than this skip cblas_sgemm, whose set-up (and thread hand-off) costs more than
// the arithmetic for fusion's per-token 1×N·N×D products.
#define SMALL_PRODUCT (32 * 1024)

// Activation codes: the tfjs wasm backend's FusableActivation numbering (prelu, 3, is not done here).
enum { LINEAR = 0, RELU = 1, RELU6 = 2, LEAKYRELU = 4, SIGMOID = 5, ELU = 6 };

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "blas: Node-API call failed: " #call); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

napi_value fail(napi_env env, const char* message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

bool float32_array(napi_env env, napi_value value, const char* function_name, const char* name, float** data, size_t* length) {
  bool is_typed_array = false;
  napi_typedarray_type type;
  if (napi_is_typedarray(env, value, &is_typed_array) != napi_ok || !is_typed_array ||
      napi_get_typedarray_info(env, value, &type, length, (void**)data, NULL, NULL) != napi_ok || type != napi_float32_array) {
    char message[128];
    snprintf(message, sizeof message, "%s: expected %s to be a Float32Array", function_name, name);
    napi_throw_type_error(env, NULL, message);
    return false;
  }
  return true;
}

static void activate(float* out, size_t size, int activation, float alpha) {
  switch (activation) {
    case RELU:
      for (size_t i = 0; i < size; i++) out[i] = out[i] > 0 ? out[i] : 0;
      break;
    case RELU6:
      for (size_t i = 0; i < size; i++) out[i] = out[i] < 0 ? 0 : (out[i] > 6 ? 6 : out[i]);
      break;
    case LEAKYRELU:
      for (size_t i = 0; i < size; i++) out[i] = out[i] < 0 ? alpha * out[i] : out[i];
      break;
    case SIGMOID:
      for (size_t i = 0; i < size; i++) out[i] = 1.0f / (1.0f + expf(-out[i]));
      break;
    case ELU:
      for (size_t i = 0; i < size; i++) out[i] = out[i] < 0 ? expm1f(out[i]) : out[i];
      break;
    default:
      break;
  }
}

// Σ x[l]·y[l] in eight lanes, which gcc turns into vector instructions (a plain float sum would stay sequential).
static float dot(const float* x, const float* y, int64_t k) {
  float lanes[8] = {0};
  int64_t l = 0;
  for (; l + 8 <= k; l += 8) {
    for (int u = 0; u < 8; u++) lanes[u] += x[l + u] * y[l + u];
  }
  float sum = 0;
  for (int u = 0; u < 8; u++) sum += lanes[u];
  for (; l < k; l++) sum += x[l] * y[l];
  return sum;
}

// out (m×n) = op(a)·op(b) + bias (or 0) by direct loops: dot products of rows when only b is transposed, row updates
// otherwise.
static void small_product(const float* a, const float* b, float* out, int64_t m, int64_t n, int64_t k, bool transpose_a,
                          bool transpose_b, const float* bias) {
  for (int64_t i = 0; i < m; i++) {
    float* row = out + i * n;
    if (transpose_b && !transpose_a) {
      for (int64_t j = 0; j < n; j++) row[j] = (bias != NULL ? bias[j] : 0.0f) + dot(a + i * k, b + j * k, k);
      continue;
    }
    for (int64_t j = 0; j < n; j++) row[j] = bias != NULL ? bias[j] : 0.0f;
    for (int64_t l = 0; l < k; l++) {
      const float x = transpose_a ? a[l * m + i] : a[i * k + l];
      if (transpose_b) {
        for (int64_t j = 0; j < n; j++) row[j] += x * b[j * k + l];
      } else {
        const float* b_row = b + l * n;
        for (int64_t j = 0; j < n; j++) row[j] += x * b_row[j];
      }
    }
  }
}

// matMul(a, b, c, bias, offsets, m, n, k, transposeA, transposeB, activation, alpha)
// For each product p: c[oc .. oc + m·n) = act(op(a[oa ..]) · op(b[ob ..]) + bias), offsets = [oa, ob, oc] per product,
// op(a) m×k (stored k×m when transposeA), op(b) k×n (stored n×k when transposeB), row-major, bias n values or null.
static napi_value mat_mul(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 12) return fail(env, "blas.matMul: expected 12 arguments");

  float *a, *b, *c, *bias = NULL;
  size_t a_length, b_length, c_length, bias_length = 0;
  if (!float32_array(env, argv[0], "blas.matMul", "a", &a, &a_length) || !float32_array(env, argv[1], "blas.matMul", "b", &b, &b_length) ||
      !float32_array(env, argv[2], "blas.matMul", "c", &c, &c_length)) {
    return NULL;
  }
  napi_valuetype bias_type;
  CHECK(napi_typeof(env, argv[3], &bias_type));
  if (bias_type != napi_null && !float32_array(env, argv[3], "blas.matMul", "bias", &bias, &bias_length)) return NULL;

  bool is_typed_array = false;
  napi_typedarray_type offsets_type;
  size_t offsets_length;
  double* offsets;
  CHECK(napi_is_typedarray(env, argv[4], &is_typed_array));
  if (!is_typed_array) return fail(env, "blas.matMul: expected offsets to be a Float64Array");
  CHECK(napi_get_typedarray_info(env, argv[4], &offsets_type, &offsets_length, (void**)&offsets, NULL, NULL));
  if (offsets_type != napi_float64_array || offsets_length % 3 != 0) {
    return fail(env, "blas.matMul: expected offsets to be a Float64Array of [a, b, c] triples");
  }

  int64_t m, n, k;
  int32_t activation;
  bool transpose_a, transpose_b;
  double alpha;
  CHECK(napi_get_value_int64(env, argv[5], &m));
  CHECK(napi_get_value_int64(env, argv[6], &n));
  CHECK(napi_get_value_int64(env, argv[7], &k));
  CHECK(napi_get_value_bool(env, argv[8], &transpose_a));
  CHECK(napi_get_value_bool(env, argv[9], &transpose_b));
  CHECK(napi_get_value_int32(env, argv[10], &activation));
  CHECK(napi_get_value_double(env, argv[11], &alpha));
  if (m < 0 || n < 0 || k < 0 || m > 0x7fffffff || n > 0x7fffffff || k > 0x7fffffff) {
    return fail(env, "blas.matMul: expected dimensions m, n, k between 0 and 2^31 - 1");
  }
  if (activation == 3 || activation < 0 || activation > ELU) return fail(env, "blas.matMul: unsupported activation code");
  if (bias != NULL && bias_length < (size_t)n) return fail(env, "blas.matMul: expected a bias of n values");

  const size_t products = offsets_length / 3;
  for (size_t p = 0; p < products; p++) {
    const double oa = offsets[3 * p], ob = offsets[3 * p + 1], oc = offsets[3 * p + 2];
    if (oa < 0 || ob < 0 || oc < 0 || oa + (double)(m * k) > (double)a_length || ob + (double)(k * n) > (double)b_length ||
        oc + (double)(m * n) > (double)c_length) {
      char message[160];
      snprintf(message, sizeof message, "blas.matMul: product %zu reads or writes outside its arrays (offsets %.0f, %.0f, %.0f)", p, oa, ob, oc);
      return fail(env, message);
    }
  }

  for (size_t p = 0; p < products; p++) {
    float* out = c + (size_t)offsets[3 * p + 2];
    // Zero-sized products land here too: they only fill `out` with the bias, if any.
    if (m * n * k <= SMALL_PRODUCT) {
      small_product(a + (size_t)offsets[3 * p], b + (size_t)offsets[3 * p + 1], out, m, n, k, transpose_a, transpose_b, bias);
      activate(out, (size_t)(m * n), activation, (float)alpha);
      continue;
    }
    if (bias != NULL) {
      for (int64_t row = 0; row < m; row++) memcpy(out + row * n, bias, (size_t)n * sizeof(float));
    }
    cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans, (int)m, (int)n,
                (int)k, 1.0f, a + (size_t)offsets[3 * p], transpose_a ? (int)m : (int)k, b + (size_t)offsets[3 * p + 1],
                transpose_b ? (int)k : (int)n, bias != NULL ? 1.0f : 0.0f, out, (int)n);
    activate(out, (size_t)(m * n), activation, (float)alpha);
  }
  return NULL;
}

bool kernel_arguments(napi_env env, napi_callback_info info, const char* function_name, size_t count_arrays, const char* const* names,
                      float** arrays, size_t* lengths, size_t count_numbers, double* numbers) {
  napi_value argv[16];
  size_t argc = 16;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != count_arrays + count_numbers) {
    char message[96];
    snprintf(message, sizeof message, "%s: expected %zu arguments", function_name, count_arrays + count_numbers);
    napi_throw_error(env, NULL, message);
    return false;
  }
  for (size_t i = 0; i < count_arrays; i++) {
    if (!float32_array(env, argv[i], function_name, names[i], &arrays[i], &lengths[i])) return false;
  }
  for (size_t i = 0; i < count_numbers; i++) {
    if (napi_get_value_double(env, argv[count_arrays + i], &numbers[i]) != napi_ok) {
      char message[96];
      snprintf(message, sizeof message, "%s: expected argument %zu to be a number", function_name, count_arrays + i + 1);
      napi_throw_type_error(env, NULL, message);
      return false;
    }
  }
  return true;
}

bool same_lengths(napi_env env, const char* message, const size_t* lengths, size_t count) {
  for (size_t i = 1; i < count; i++) {
    if (lengths[i] != lengths[0]) {
      napi_throw_range_error(env, NULL, message);
      return false;
    }
  }
  return true;
}

// info(): { config, coreName, threads } of the BLAS library in use.
static napi_value blas_info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result, config, core_name, threads;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &config));
  CHECK(napi_create_string_utf8(env, openblas_get_corename(), NAPI_AUTO_LENGTH, &core_name));
  CHECK(napi_create_int32(env, openblas_get_num_threads(), &threads));
  CHECK(napi_set_named_property(env, result, "config", config));
  CHECK(napi_set_named_property(env, result, "coreName", core_name));
  CHECK(napi_set_named_property(env, result, "threads", threads));
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"matMul", NULL, mat_mul, NULL, NULL, NULL, napi_enumerable, NULL},
      {"info", NULL, blas_info, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gelu", NULL, gelu, NULL, NULL, NULL, napi_enumerable, NULL},
      {"geluGrad", NULL, gelu_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dropout", NULL, dropout, NULL, NULL, NULL, napi_enumerable, NULL},
      {"layerNorm", NULL, layer_norm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"layerNormGrad", NULL, layer_norm_grad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"adamW", NULL, adamw, NULL, NULL, NULL, napi_enumerable, NULL},
      {"attention", NULL, attention, NULL, NULL, NULL, napi_enumerable, NULL},
      {"attentionGrad", NULL, attention_grad, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
