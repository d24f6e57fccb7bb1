{
  "targets": [
    {
      "target_name": "adapterfusion_blas",
      "sources": ["blas.c", "elementwise.c", "attention.c"],
      # -fno-trapping-math lets gcc turn the GELU loops' comparisons into vector selects (nothing reads FP flags).
      "cflags": ["-O3", "-fno-trapping-math", "-std=c11", "-Wall", "-Wextra"],
      "libraries": ["-lopenblas", "-lm", "-lpthread"]
    }
  ]
}
