// The exact GELU's reference values, for the kernels' tests.

/** erf in float64 (Taylor series, then a continued fraction in the tail). */
export function erf(x: number): number {
  const a = Math.abs(x);
  let value: number;
  if (a < 3) {
    let sum = 0;
    let term = a;
    for (let k = 0; k < 80; k++) {
      sum += term / (2 * k + 1);
      term *= (-a * a) / (k + 1);
    }
    value = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    let fraction = 0;
    for (let k = 60; k >= 1; k--) fraction = k / 2 / (a + fraction);
    value = 1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + fraction);
  }
  return x < 0 ? -value : value;
}

/** The standard normal CDF Φ and density φ in float64. */
export const normalCdf = (x: number): number => 0.5 * (1 + erf(x / Math.SQRT2));
export const normalDensity = (x: number): number => Math.exp((-x * x) / 2) / Math.sqrt(2 * Math.PI);
