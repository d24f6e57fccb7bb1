{
  "targets": [
    {
      "target_name": "adapterfusion_blas",
      "sources": ["blas.c", "elementwise.c", "attention.c", "parallel.c"],
      # -fno-trapping-math lets gcc turn the GELU loops' comparisons into vector selects (nothing reads FP flags), and
      # -fno-math-errno lets it vectorise sqrtf (nothing reads errno).
      "cflags": ["-O3", "-fno-trapping-math", "-fno-math-errno", "-std=c11", "-Wall", "-Wextra"],
      "libraries": ["-lopenblas", "-lm", "-lpthread"]
    }
  ]
}
