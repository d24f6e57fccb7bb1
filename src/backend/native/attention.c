// Multi-head scaled dot-product attention as one kernel forward and one backward, on the (B, T, D) projections as
// they come out of the dense layers: each head is a column block of width D/H, which cblas_sgemm reads in place
// through its leading dimension, so no transposes. Heads run on the BLAS's threads, one (batch, head) pair per
// single-threaded product at a time: OpenBLAS splitting each 128×64·64×128 product over threads is slower.
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "native.h"

// One call's tensors and sizes.
typedef struct {
  const float *q, *k, *v;  // (B, T, D)
  const float* key_bias;   // added to the scores of each key: 0, or -FLT_MAX for padding (B, T)
  float* probabilities;    // softmax before dropout (B, H, T, T): written forward, read backward
  float* context;          // forward output (B, T, D)
  const float* d_context;  // backward input (B, T, D)
  float *dq, *dk, *dv;     // backward outputs (B, T, D)
  size_t batch, length, width, heads;
  float scale;  // 1/sqrt(D/H)
  bool dropout;
  uint32_t seed, last_kept;
  float keep_scale;
} Attention;

// Softmax of each row of the T×T scores after adding the key bias, in place.
VECTORISED static void softmax_rows(float* scores, const float* key_bias, size_t length) {
  for (size_t i = 0; i < length; i++) {
    float* row = scores + i * length;
    float lanes[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    size_t j = 0;
    for (; j + 8 <= length; j += 8) {
      for (int u = 0; u < 8; u++) {
        row[j + u] += key_bias[j + u];
        lanes[u] = row[j + u] > lanes[u] ? row[j + u] : lanes[u];
      }
    }
    float max = -INFINITY;
    for (; j < length; j++) {
      row[j] += key_bias[j];
      max = row[j] > max ? row[j] : max;
    }
    for (int u = 0; u < 8; u++) max = lanes[u] > max ? lanes[u] : max;
    float sums[8] = {0};
    for (j = 0; j + 8 <= length; j += 8) {
      for (int u = 0; u < 8; u++) {
        row[j + u] = exp_nonpositive(row[j + u] - max);
        sums[u] += row[j + u];
      }
    }
    float sum = 0;
    for (; j < length; j++) {
      row[j] = exp_nonpositive(row[j] - max);
      sum += row[j];
    }
    for (int u = 0; u < 8; u++) sum += sums[u];
    const float inverse = 1.0f / sum;
    for (j = 0; j < length; j++) row[j] *= inverse;
  }
}

// The scores' gradient from the probabilities' (in place): dS_ij = P_ij·(dP_ij − Σ_l P_il·dP_il).
VECTORISED static void softmax_grad_rows(const float* probabilities, float* gradient, size_t length) {
  for (size_t i = 0; i < length; i++) {
    const float* p = probabilities + i * length;
    float* g = gradient + i * length;
    float lanes[8] = {0};
    size_t j = 0;
    for (; j + 8 <= length; j += 8) {
      for (int u = 0; u < 8; u++) lanes[u] += p[j + u] * g[j + u];
    }
    float dot = 0;
    for (; j < length; j++) dot += p[j] * g[j];
    for (int u = 0; u < 8; u++) dot += lanes[u];
    for (j = 0; j < length; j++) g[j] = p[j] * (g[j] - dot);
  }
}

// Forward for one (batch, head) pair; `scratch` holds T×T floats.
static void forward_pair(const Attention* a, size_t pair, float* scratch) {
  const size_t b = pair / a->heads, h = pair % a->heads, t = a->length, d = a->width, head = d / a->heads;
  const size_t offset = b * t * d + h * head;  // the head's column block in (B, T, D)
  float* p = a->probabilities + pair * t * t;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)t, (int)t, (int)head, a->scale, a->q + offset, (int)d, a->k + offset, (int)d, 0.0f, p, (int)t);
  softmax_rows(p, a->key_bias + b * t, t);
  const float* mixed = p;
  if (a->dropout) {
    dropout_values(p, scratch, t * t, pair * t * t, a->seed, a->last_kept, a->keep_scale);
    mixed = scratch;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)t, (int)head, (int)t, 1.0f, mixed, (int)t, a->v + offset, (int)d, 0.0f, a->context + offset, (int)d);
}

// Backward for one pair; `scratch` holds 2·T×T floats.
static void backward_pair(const Attention* a, size_t pair, float* scratch) {
  const size_t b = pair / a->heads, h = pair % a->heads, t = a->length, d = a->width, head = d / a->heads;
  const size_t offset = b * t * d + h * head;
  const float* p = a->probabilities + pair * t * t;
  float *gradient = scratch, *dropped = scratch + t * t;
  // dP' = dC·Vᵀ, the gradient of the probabilities after dropout.
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)t, (int)t, (int)head, 1.0f, a->d_context + offset, (int)d, a->v + offset, (int)d, 0.0f, gradient, (int)t);
  const float* mixed = p;
  if (a->dropout) {
    dropout_values(p, dropped, t * t, pair * t * t, a->seed, a->last_kept, a->keep_scale);
    dropout_values(gradient, gradient, t * t, pair * t * t, a->seed, a->last_kept, a->keep_scale);
    mixed = dropped;
  }
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)t, (int)head, (int)t, 1.0f, mixed, (int)t, a->d_context + offset, (int)d, 0.0f, a->dv + offset, (int)d);
  softmax_grad_rows(p, gradient, t);
  // S = scale·Q·Kᵀ, so dQ = scale·dS·K and dK = scale·dSᵀ·Q.
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)t, (int)head, (int)t, a->scale, gradient, (int)t, a->k + offset, (int)d, 0.0f, a->dq + offset, (int)d);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)t, (int)head, (int)t, a->scale, gradient, (int)t, a->q + offset, (int)d, 0.0f, a->dk + offset, (int)d);
}

// Pairs begin … end - 1 of a call, with the scratch memory of one pair; false when it cannot be allocated.
static bool run_pairs(void* context, size_t begin, size_t end) {
  const Attention* a = context;
  const size_t t = a->length;
  float* scratch = malloc(2 * t * t * sizeof(float));
  if (scratch == NULL) return false;
  for (size_t pair = begin; pair < end; pair++) {
    if (a->d_context == NULL) forward_pair(a, pair, scratch);
    else backward_pair(a, pair, scratch);
  }
  free(scratch);
  return true;
}

// Sizes from the numbers `heads, length, rate, seed` and the array lengths; false (with an error thrown) when they
// do not fit together.
static bool attention_sizes(napi_env env, const char* function_name, const double* numbers, size_t q_length, size_t probabilities_length, Attention* call) {
  const double heads = numbers[0], length = numbers[1], rate = numbers[2];
  char message[200];
  if (!(heads >= 1 && length >= 1 && heads == floor(heads) && length == floor(length) && rate >= 0 && rate < 1)) {
    snprintf(message, sizeof message, "%s: expected whole numbers of heads and tokens and a dropout rate in [0, 1)", function_name);
    fail(env, message);
    return false;
  }
  call->heads = (size_t)heads;
  call->length = (size_t)length;
  const size_t per_batch = call->heads * call->length * call->length;
  call->batch = probabilities_length / per_batch;
  call->width = call->batch == 0 ? 0 : q_length / (call->batch * call->length);
  if (call->batch == 0 || probabilities_length != call->batch * per_batch || q_length != call->batch * call->length * call->width ||
      call->width % call->heads != 0) {
    snprintf(message, sizeof message, "%s: expected query, key, value of B·T·D and probabilities of B·H·T·T floats, D a multiple of H", function_name);
    fail(env, message);
    return false;
  }
  call->scale = (float)(1 / sqrt((double)(call->width / call->heads)));
  call->dropout = rate > 0;
  dropout_parameters(rate, &call->last_kept, &call->keep_scale);
  call->seed = (uint32_t)(int64_t)numbers[3];
  return true;
}

// attention(q, k, v, keyBias, context, probabilities, heads, length, rate, seed): context = dropout(softmax(
// q·kᵀ/sqrt(D/H) + keyBias))·v per head, and the softmax (before dropout) into probabilities for the gradient.
napi_value attention(napi_env env, napi_callback_info info) {
  static const char* const names[] = {"query", "key", "value", "keyBias", "context", "probabilities"};
  float* arrays[6];
  size_t lengths[6];
  double numbers[4];
  Attention call = {0};
  if (!kernel_arguments(env, info, "attention", 6, names, arrays, lengths, 4, numbers) ||
      !attention_sizes(env, "attention", numbers, lengths[0], lengths[5], &call)) {
    return NULL;
  }
  if (lengths[1] != lengths[0] || lengths[2] != lengths[0] || lengths[4] != lengths[0] || lengths[3] != call.batch * call.length) {
    return fail(env, "attention: expected query, key, value and context of one length and keyBias of B·T floats");
  }
  call.q = arrays[0], call.k = arrays[1], call.v = arrays[2], call.key_bias = arrays[3], call.context = arrays[4], call.probabilities = arrays[5];
  if (!parallel_for(call.batch * call.heads, 1, run_pairs, &call)) return fail(env, "attention: could not allocate scratch memory");
  return NULL;
}

// attentionGrad(q, k, v, probabilities, dContext, dq, dk, dv, heads, length, rate, seed): the gradients of
// attention's context with respect to q, k and v, from the probabilities it saved (dropout redrawn from the seed).
napi_value attention_grad(napi_env env, napi_callback_info info) {
  static const char* const names[] = {"query", "key", "value", "probabilities", "dContext", "dQuery", "dKey", "dValue"};
  float* arrays[8];
  size_t lengths[8];
  double numbers[4];
  Attention call = {0};
  if (!kernel_arguments(env, info, "attentionGrad", 8, names, arrays, lengths, 4, numbers) ||
      !attention_sizes(env, "attentionGrad", numbers, lengths[0], lengths[3], &call)) {
    return NULL;
  }
  for (size_t i = 1; i < 8; i++) {
    if (i != 3 && lengths[i] != lengths[0]) return fail(env, "attentionGrad: expected query, key, value, dContext and the gradients of one length");
  }
  call.q = arrays[0], call.k = arrays[1], call.v = arrays[2], call.probabilities = arrays[3], call.d_context = arrays[4];
  call.dq = arrays[5], call.dk = arrays[6], call.dv = arrays[7];
  if (!parallel_for(call.batch * call.heads, 1, run_pairs, &call)) return fail(env, "attentionGrad: could not allocate scratch memory");
  return NULL;
}
