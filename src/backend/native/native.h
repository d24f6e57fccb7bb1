// Shared by the add-on's sources: argument helpers (blas.c) and the kernels each source exports to JavaScript.
#ifndef ADAPTERFUSION_NATIVE_H
#define ADAPTERFUSION_NATIVE_H

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>

// Element-wise loops are compiled twice, for AVX2 and for baseline x86-64, and the loader picks the one the CPU runs
// (glibc's ifunc), so a build stays portable across x86-64 machines and still uses 8-wide vectors.
#if defined(__x86_64__) && defined(__GLIBC__)
#define VECTORISED __attribute__((target_clones("avx2", "default")))
#else
#define VECTORISED
#endif

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

#endif
