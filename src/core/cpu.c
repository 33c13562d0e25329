/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cpu.c - run-time CPU features and the number of online CPUs (see
 * cpu_int.h).
 *
 * The features come from the compiler runtime's CPUID probe
 * (__builtin_cpu_supports), which also checks that the OS saves the
 * AVX and AVX-512 registers: a CPU with AVX-512 under an OS that does not
 * enable it reports no AVX-512.
 *
 * Threading: no state of ours (see cpu_int.h).
 */
#include "core/cpu_int.h"

#include <unistd.h>

/* The IMS__CPU_* bits this build has kernels for and this CPU runs. */
static uint32_t cpu_features(void) {
  uint32_t have = 0;
#ifdef IMS_HAVE_X86_SIMD
  __builtin_cpu_init();
  if (__builtin_cpu_supports("sse4.1")) have |= IMS__CPU_SSE41;
  if (__builtin_cpu_supports("avx2")) have |= IMS__CPU_AVX2;
  if (__builtin_cpu_supports("avx512f")) have |= IMS__CPU_AVX512F;
  if (__builtin_cpu_supports("avx512bw")) have |= IMS__CPU_AVX512BW;
  if (__builtin_cpu_supports("avx512vl")) have |= IMS__CPU_AVX512VL;
  if (__builtin_cpu_supports("avx512vbmi")) have |= IMS__CPU_AVX512VBMI;
  if (__builtin_cpu_supports("avx512vnni")) have |= IMS__CPU_AVX512VNNI;
#endif
  return have;
}

bool ims__cpu_has(uint32_t features) {
  return (features & ~cpu_features()) == 0;
}

size_t ims__cpu_online(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (size_t)n : 1;
}
