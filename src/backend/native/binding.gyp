{
  "targets": [
    {
      "target_name": "adapterfusion_blas",
      "sources": ["blas.c"],
      "cflags": ["-O3", "-std=c11", "-Wall", "-Wextra"],
      "libraries": ["-lopenblas", "-lm"]
    }
  ]
}
