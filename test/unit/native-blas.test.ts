import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeCore, loadNativeBlas, openblasCoreFor, parseCpuInfo } from '../../src/backend/native/native-blas';
import { lacking } from '../requirements';

/** /proc/cpuinfo's text for two processors with these vendor and flags (the first is the one read). */
function cpuInfoText(vendor: string, flags: string): string {
  const processor = (index: number, own: string, ownFlags: string) =>
    `processor\t: ${index}\nvendor_id\t: ${own}\ncpu family\t: 6\nmodel\t\t: 207\nflags\t\t: ${ownFlags}\nbogomips\t: 4599.99\n`;
  return `${processor(0, vendor, flags)}\n${processor(1, 'AuthenticAMD', 'fpu sse2')}\n`;
}

const AVX2 = 'fpu sse sse2 ssse3 sse4_1 sse4_2 avx fma avx2';
const AVX512 = `${AVX2} avx512f avx512dq avx512cd avx512bw avx512vl`;

describe('OpenBLAS kernels for the CPU', () => {
  it('reads the first processor\'s vendor and flags from /proc/cpuinfo\'s text', () => {
    const cpu = parseCpuInfo(cpuInfoText('GenuineIntel', `${AVX512} avx512_bf16`));
    expect(cpu?.vendor).toBe('GenuineIntel');
    expect([...(cpu?.flags ?? [])]).toEqual([...AVX512.split(' '), 'avx512_bf16']);
    expect(parseCpuInfo('processor\t: 0\nvendor_id\t: GenuineIntel\n')).toBeUndefined();
  });

  it('picks an Intel CPU\'s kernels from its vector extensions, and leaves other vendors to OpenBLAS', () => {
    const core = (vendor: string, flags: string) => openblasCoreFor(parseCpuInfo(cpuInfoText(vendor, flags))!);
    expect(core('GenuineIntel', `${AVX512} avx512_bf16 amx_tile`)).toBe('Cooperlake');
    expect(core('GenuineIntel', AVX512)).toBe('SkylakeX');
    expect(core('GenuineIntel', `${AVX2} avx512f`)).toBe('Haswell');
    expect(core('GenuineIntel', AVX2)).toBe('Haswell');
    expect(core('GenuineIntel', 'fpu sse sse2 avx')).toBeUndefined();
    expect(core('AuthenticAMD', `${AVX512} avx512_bf16`)).toBeUndefined();
  });

  it('says whether OpenBLAS runs the kernels chosen for the CPU', () => {
    expect(describeCore('Zen', undefined)).toBe('Zen');
    expect(describeCore('Cooperlake', 'Cooperlake')).toBe('Cooperlake, chosen from the CPU\'s flags');
    expect(describeCore('Haswell', 'Cooperlake')).toBe('Haswell, not Cooperlake: built for one CPU type');
  });

  const cpu = existsSync('/proc/cpuinfo') ? parseCpuInfo(readFileSync('/proc/cpuinfo', 'utf8')) : undefined;
  const expected = cpu && openblasCoreFor(cpu);
  const { blas, description } = loadNativeBlas({});
  const chosen = expected !== undefined && process.env.OPENBLAS_CORETYPE === expected;
  it.skipIf(lacking('the native add-on', blas) || lacking('a CPU whose OpenBLAS kernels the loader picks (and OPENBLAS_CORETYPE left to it)', chosen))('runs those kernels on this machine and says so', () => {
    expect(blas!.info().coreName).toBe(expected);
    expect(description).toMatch(new RegExp(`^OpenBLAS [\\d.]+ \\(${expected}(, chosen from the CPU's flags)?, \\d+ threads\\)$`));
  });
});
