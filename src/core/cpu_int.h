/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cpu_int.h - what the CPU can run: the one place that names instruction
 * set extensions, for the library's own SIMD kernels.
 *
 * How the kernels are built: the library is compiled for baseline x86-64.
 * Each kernel that uses a wider instruction set lives in a file of its
 * own, named for the architecture (src/image/preprocess_x86.c,
 * src/infer/dw_x86.c; XNNPACK keeps one ISA per file too), and each of
 * its functions carries one of the IMS__TARGET_* attributes below, so the
 * compiler may use those instructions there and nowhere else. Code that
 * calls such a kernel first asks ims__cpu_has() for the matching
 * IMS__CPU_FOR_* set, at run time, and otherwise takes the portable C
 * kernel; the library so runs on any x86-64, and elsewhere on C alone.
 * A target attribute and the CPU features it needs are defined side by
 * side, so the two cannot drift apart.
 *
 * IMS_HAVE_X86_SIMD is defined when this build has the x86 kernels:
 * GCC or Clang targeting x86-64, unless -DIMS_NO_SIMD asks for the
 * portable C kernels only (to test them alone).
 *
 * Not here: what oneDNN and XNNPACK pick for themselves (they detect the
 * CPU on their own), and anything beyond x86.
 *
 * Threading: no state of ours; the CPUID results live in the compiler
 * runtime (__builtin_cpu_init), set up once and only read.
 */
#ifndef IMS_CORE_CPU_INT_H
#define IMS_CORE_CPU_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(IMS_NO_SIMD)
#define IMS_HAVE_X86_SIMD 1
#endif

/* One bit per instruction set extension a kernel of ours may need. */
#define IMS__CPU_SSE41 0x01u
#define IMS__CPU_AVX2 0x02u
#define IMS__CPU_AVX512F 0x04u
#define IMS__CPU_AVX512BW 0x08u
#define IMS__CPU_AVX512VL 0x10u
#define IMS__CPU_AVX512VBMI 0x20u
#define IMS__CPU_AVX512VNNI 0x40u

/* The kernel families: a function attribute, and the features a CPU must
 * have before a function with it may run. */
#define IMS__TARGET_SSE41 __attribute__((target("sse4.1")))
#define IMS__CPU_FOR_SSE41 IMS__CPU_SSE41

#define IMS__TARGET_AVX2 __attribute__((target("avx2")))
#define IMS__CPU_FOR_AVX2 IMS__CPU_AVX2

/* AVX-512 with byte permutes (vpermb): the image resampler. */
#define IMS__TARGET_AVX512_VBMI \
  __attribute__((target("avx512f,avx512bw,avx512vbmi")))
#define IMS__CPU_FOR_AVX512_VBMI                                   \
  (IMS__CPU_AVX2 | IMS__CPU_AVX512F | IMS__CPU_AVX512BW |          \
   IMS__CPU_AVX512VBMI)

/* AVX-512 with 256-bit masked forms and dot products (vpdpwssd): the 3x3
 * depthwise convolution. */
#define IMS__TARGET_AVX512_VNNI \
  __attribute__((target("avx2,avx512f,avx512bw,avx512vl,avx512vnni")))
#define IMS__CPU_FOR_AVX512_VNNI                                   \
  (IMS__CPU_AVX2 | IMS__CPU_AVX512F | IMS__CPU_AVX512BW |          \
   IMS__CPU_AVX512VL | IMS__CPU_AVX512VNNI)

/* Whether this build has kernels for, and this CPU (and its OS) runs,
 * every extension in `features` (IMS__CPU_* bits). 0 is always true;
 * anything else is false without IMS_HAVE_X86_SIMD. Cheap enough for
 * create calls; kernels are picked once there, not per image. */
bool ims__cpu_has(uint32_t features);

/* CPUs online now (at least 1): the default number of threads. */
size_t ims__cpu_online(void);

#endif /* IMS_CORE_CPU_INT_H */
