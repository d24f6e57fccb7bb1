// Work split over the BLAS's threads: attention's (batch, head) pairs and the element-wise kernels' elements or rows.
#include <cblas.h>
#include <pthread.h>

#include "native.h"

#define MAX_THREADS 16

typedef struct {
  bool (*body)(void* context, size_t begin, size_t end);
  void* context;
  size_t begin, end;
} Part;

static void* run_part(void* argument) {
  const Part* part = argument;
  return part->body(part->context, part->begin, part->end) ? NULL : argument;
}

bool parallel_for(size_t count, size_t grain, bool (*body)(void* context, size_t begin, size_t end), void* context) {
  const int blas_threads = openblas_get_num_threads();
  size_t threads = blas_threads < 1 ? 1 : (size_t)blas_threads;
  if (threads > count / grain) threads = count / grain;
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  if (threads <= 1) return body(context, 0, count);
  Part parts[MAX_THREADS];
  pthread_t ids[MAX_THREADS];
  bool started[MAX_THREADS] = {false};
  for (size_t i = 0; i < threads; i++) parts[i] = (Part){body, context, count * i / threads, count * (i + 1) / threads};
  // Products inside a part run single-threaded: the parts already use every thread.
  openblas_set_num_threads(1);
  for (size_t i = 1; i < threads; i++) started[i] = pthread_create(&ids[i], NULL, run_part, &parts[i]) == 0;
  bool ok = run_part(&parts[0]) == NULL;
  for (size_t i = 1; i < threads; i++) {
    void* result = &parts[i];
    if (started[i]) pthread_join(ids[i], &result);
    else result = run_part(&parts[i]);  // no thread to run it: run it here
    ok = ok && result == NULL;
  }
  openblas_set_num_threads(blas_threads);
  return ok;
}
