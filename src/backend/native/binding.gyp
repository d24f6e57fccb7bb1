{
  "targets": [
    {
      "target_name": "adapterfusion_blas",
      "sources": ["blas.c"],
      "cflags": ["-O2", "-std=c11", "-Wall", "-Wextra"],
      "libraries": ["-lopenblas", "-lm"]
    }
  ]
}
