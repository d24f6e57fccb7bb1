// Shared by the add-on's sources: argument helpers (blas.c) and the kernels each source exports to JavaScript.
#ifndef ADAPTERFUSION_NATIVE_H
#define ADAPTERFUSION_NATIVE_H

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

// Element-wise loops are compiled twice, for AVX2 and for baseline x86-64, and the loader picks the one the CPU runs
// (glibc's ifunc), so a build stays portable across x86-64 machines and still uses 8-wide vectors. GELU, dropout and
// LayerNorm are also compiled for AVX-512, whose 16 lanes made them 1.2-2× faster on a Xeon that has it; softmax and
// AdamW measured no faster with it.
#if defined(__x86_64__) && defined(__GLIBC__)
#define VECTORISED __attribute__((target_clones("avx2", "default")))
#define VECTORISED_WIDE __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VECTORISED
#define VECTORISED_WIDE
#endif

// e^x for x <= 0 as 2^k · e^r, k = round(x / ln 2), |r| <= ln 2 / 2, ln 2 split in two for the reduction (relative
// error < 2.5e-7); exactly 0 below -87, where e^x leaves the normal floats. Written so that gcc vectorises the loops
// calling it: no libm call, no branch but the final select, and k rounded by the 1.5·2^23 shifter instead of a
// float-to-int conversion (either stops the AVX2 loop).
static inline float exp_nonpositive(float x) {
  const float clamped = x < -87.0f ? -87.0f : x;
  const float shifter = 12582912.0f;
  const float shifted = clamped * 1.44269504f + shifter; // k in the low mantissa bits
  const float k = shifted - shifter;
  const float r = (clamped - k * 0.693145752f) - k * 1.42860677e-6f;
  const float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f + r * (0.0416666679f + r * (0.00833333377f + r * 0.00138888892f)))));
  uint32_t bits;
  memcpy(&bits, &shifted, sizeof bits);
  bits = (bits - 0x4b400000u + 127u) << 23; // 2^k
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return x < -87.0f ? 0.0f : p * scale;
}

// The mulberry32 draw number `index` (from 0) of a generator started at `seed`: its state after index + 1 steps is
// seed + (index + 1)·0x6d2b79f5, so every draw is computed on its own (SeededRandom in src/util/random.ts).
static inline uint32_t mulberry32_draw(uint32_t seed, uint32_t index) {
  const uint32_t state = seed + (index + 1u) * 0x6d2b79f5u;
  uint32_t t = (state ^ (state >> 15)) * (state | 1u);
  t ^= t + (t ^ (t >> 7)) * (t | 61u);
  return t ^ (t >> 14);
}

// Dropout of `length` values that start at element `first` of a tensor masked by `seed`: kept (and scaled) when
// the element's draw is at most `last_kept`. elementwise.c
void dropout_values(const float* x, float* out, size_t length, size_t first, uint32_t seed, uint32_t last_kept, float scale);

// The `last_kept` draw and the scale of dropout at `rate`, in [0, 1).
void dropout_parameters(double rate, uint32_t* last_kept, float* scale);

// Calls body(context, begin, end) on contiguous parts of [0, count), on as many threads as the BLAS uses (at most 16)
// with parts at least `grain` (>= 1) long, the BLAS single-threaded meanwhile (a part whose thread does not start runs on the
// caller's); false when a part returned false. parallel.c
bool parallel_for(size_t count, size_t grain, bool (*body)(void* context, size_t begin, size_t end), void* context);

// Throws `message` as an Error; returns NULL for the caller to return.
napi_value fail(napi_env env, const char* message);

// Reads a Float32Array argument of `function_name`; `name` appears in the error when it is something else.
bool float32_array(napi_env env, napi_value value, const char* function_name, const char* name, float** data, size_t* length);

// Reads the Float32Array arguments named in `names` (in order) into `arrays` and `lengths`, then `count_numbers`
// number arguments into `numbers`; `function_name` and the names appear in errors.
bool kernel_arguments(napi_env env, napi_callback_info info, const char* function_name, size_t count_arrays, const char* const* names,
                      float** arrays, size_t* lengths, size_t count_numbers, double* numbers);

// Checks that the first `count` arrays have one length; throws a RangeError with `message` otherwise.
bool same_lengths(napi_env env, const char* message, const size_t* lengths, size_t count);

// elementwise.c
napi_value gelu(napi_env env, napi_callback_info info);
napi_value gelu_grad(napi_env env, napi_callback_info info);
napi_value dropout(napi_env env, napi_callback_info info);
napi_value layer_norm(napi_env env, napi_callback_info info);
napi_value layer_norm_grad(napi_env env, napi_callback_info info);
napi_value adamw(napi_env env, napi_callback_info info);

// attention.c
napi_value attention(napi_env env, napi_callback_info info);
napi_value attention_grad(napi_env env, napi_callback_info info);

#endif
