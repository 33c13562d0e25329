/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_peak.c - this machine's measured peak multiply-accumulate rate,
 * the ceiling bench/run holds inference against ("percent of peak").
 *
 *   bench_peak [--seconds S] [--threads N] [--json]
 *
 * Two loops, each run on 1..N threads at once (default N = 2, S = 0.5 s
 * per thread count, best of 3 tries):
 *  - float: fused multiply-adds on 12 independent accumulators (enough to
 *    cover the FMA latency on every current x86 core), AVX-512 zmm
 *    (vfmadd231ps, 16 MACs per instruction) when CPUID and XGETBV say the
 *    CPU and OS support it, else AVX2+FMA ymm (8 MACs);
 *  - int8: AVX-512 VNNI vpdpbusd on zmm (u8 x s8 -> s32, 64 MACs per
 *    instruction), 12 accumulators, if CPUID reports AVX512_VNNI; else
 *    AVX2 vpmaddubsw + vpmaddwd by 1s + vpaddd on ymm (u8 x s8, 32 MACs
 *    per three instructions): what imgstream's own 1x1 kernel runs
 *    without VNNI (src/infer/pw_ops.c: exact where each weight pair
 *    passes a check, with a 16-bit rest otherwise). XNNPACK's and
 *    oneDNN's AVX2 8-bit kernels use vpmaddwd + vpaddd (16 MACs per two
 *    instructions; loop_madd_256, kept for comparison).
 * The kernels are compiled with target attributes, so the file builds with
 * the project's flags (no -mavx512*) and runs anywhere; nothing here is
 * used by the library. The loops do the instruction and nothing else: no
 * loads, no stores, so the figure is the core's arithmetic peak, which no
 * real layer reaches (memory traffic, edges, other ops).
 *
 * Prints a table, or with --json one object:
 * {"f32":{"isa":"avx512","gmacs":{"1":..,"2":..}},
 *  "int8":{"isa":"avx512_vnni","gmacs":{"1":..,"2":..}}}
 * with GMAC/s summed over the threads.
 *
 * Threading: one pthread per measured thread, started together behind a
 * barrier; each counts its own iterations.
 */
#define _POSIX_C_SOURCE 200809L
#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHUNK 1000000L /* loop iterations between clock reads */
#define ACCS 12        /* independent accumulators per loop */

typedef enum kernel {
  K_F32_512, K_F32_256, K_VNNI_512, K_MADD_256, K_MADDUBS_256, K_NONE
} kernel;

typedef struct cpu_caps {
  int avx2_fma;    /* AVX2 + FMA usable (CPU and OS) */
  int avx512;      /* AVX512F usable */
  int avx512_vnni; /* AVX512_VNNI usable */
} cpu_caps;

static uint64_t xgetbv0(void) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

static cpu_caps detect(void) {
  cpu_caps c = {0, 0, 0};
  unsigned a, b, cx, d;
  if (!__get_cpuid(1, &a, &b, &cx, &d)) return c;
  int osxsave = (cx >> 27) & 1, fma = (cx >> 12) & 1;
  if (!osxsave) return c;
  uint64_t xcr0 = xgetbv0();
  int ymm_os = (xcr0 & 0x6) == 0x6;    /* SSE + AVX state */
  int zmm_os = (xcr0 & 0xe6) == 0xe6;  /* + opmask, ZMM_Hi256, Hi16_ZMM */
  if (!__get_cpuid_count(7, 0, &a, &b, &cx, &d)) return c;
  c.avx2_fma = ymm_os && fma && ((b >> 5) & 1);
  c.avx512 = zmm_os && ((b >> 16) & 1);
  c.avx512_vnni = c.avx512 && ((cx >> 11) & 1);
  return c;
}

/* Each loop runs `iters` iterations of ACCS independent instructions
 * and returns a value depending on every accumulator (so none is
 * optimized away). The accumulators are named variables, not an array:
 * at -O2 gcc keeps an array in memory, and the loop then measures loads
 * and stores. */
#define ACC_DECL(T, init) \
  T a0 = init(0), a1 = init(1), a2 = init(2), a3 = init(3), a4 = init(4), \
    a5 = init(5), a6 = init(6), a7 = init(7), a8 = init(8), a9 = init(9), \
    a10 = init(10), a11 = init(11)
#define ACC_STEP(op)                                                      \
  a0 = op(a0); a1 = op(a1); a2 = op(a2); a3 = op(a3); a4 = op(a4);        \
  a5 = op(a5); a6 = op(a6); a7 = op(a7); a8 = op(a8); a9 = op(a9);        \
  a10 = op(a10); a11 = op(a11)
#define ACC_SUM(add)                                                      \
  add(add(add(add(a0, a1), add(a2, a3)), add(add(a4, a5), add(a6, a7))), \
      add(add(a8, a9), add(a10, a11)))

__attribute__((target("avx512f"))) static float loop_f32_512(long iters) {
  __m512 x = _mm512_set1_ps(1.0000001f), y = _mm512_set1_ps(1e-7f);
#define INIT(k) _mm512_set1_ps((float)(k))
#define OP(a) _mm512_fmadd_ps(x, y, a)
  ACC_DECL(__m512, INIT);
  for (long i = 0; i < iters; i++) {
    ACC_STEP(OP);
    __asm__ volatile("" : "+v"(x)); /* one opaque value per iteration */
  }
#undef INIT
#undef OP
  return _mm512_reduce_add_ps(ACC_SUM(_mm512_add_ps));
}

__attribute__((target("avx2,fma"))) static float loop_f32_256(long iters) {
  __m256 x = _mm256_set1_ps(1.0000001f), y = _mm256_set1_ps(1e-7f);
#define INIT(k) _mm256_set1_ps((float)(k))
#define OP(a) _mm256_fmadd_ps(x, y, a)
  ACC_DECL(__m256, INIT);
  for (long i = 0; i < iters; i++) {
    ACC_STEP(OP);
    __asm__ volatile("" : "+x"(x));
  }
#undef INIT
#undef OP
  float v[8];
  _mm256_storeu_ps(v, ACC_SUM(_mm256_add_ps));
  return v[0] + v[7];
}

__attribute__((target("avx512f,avx512vnni"))) static float loop_vnni_512(
    long iters) {
  __m512i x = _mm512_set1_epi8(3), y = _mm512_set1_epi8(-2);
#define INIT(k) _mm512_set1_epi32(k)
#define OP(a) _mm512_dpbusd_epi32(a, x, y)
  ACC_DECL(__m512i, INIT);
  for (long i = 0; i < iters; i++) {
    ACC_STEP(OP);
    __asm__ volatile("" : "+v"(x));
  }
#undef INIT
#undef OP
  return (float)_mm512_reduce_add_epi32(ACC_SUM(_mm512_add_epi32));
}

__attribute__((target("avx2"))) static float loop_madd_256(long iters) {
  __m256i x = _mm256_set1_epi16(3), y = _mm256_set1_epi16(-2);
#define INIT(k) _mm256_set1_epi32(k)
#define OP(a) _mm256_add_epi32(a, _mm256_madd_epi16(x, y))
  ACC_DECL(__m256i, INIT);
  for (long i = 0; i < iters; i++) {
    ACC_STEP(OP);
    __asm__ volatile("" : "+x"(x));
  }
#undef INIT
#undef OP
  int32_t v[8];
  _mm256_storeu_si256((__m256i *)(void *)v, ACC_SUM(_mm256_add_epi32));
  return (float)(v[0] + v[7]);
}

/* What imgstream's AVX2 1x1 kernel (src/infer/pw_x86.c) does per 4 input
 * channels: vpmaddubsw (u8 x s8, 32 multiply-adds, pair sums in int16),
 * vpmaddwd by 1s (int16 pairs to int32), vpaddd. */
__attribute__((target("avx2"))) static float loop_maddubs_256(long iters) {
  __m256i x = _mm256_set1_epi8(3), y = _mm256_set1_epi8(-2);
  const __m256i ones = _mm256_set1_epi16(1);
#define INIT(k) _mm256_set1_epi32(k)
#define OP(a) \
  _mm256_add_epi32(a, _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), ones))
  ACC_DECL(__m256i, INIT);
  for (long i = 0; i < iters; i++) {
    ACC_STEP(OP);
    __asm__ volatile("" : "+x"(x));
  }
#undef INIT
#undef OP
  int32_t v[8];
  _mm256_storeu_si256((__m256i *)(void *)v, ACC_SUM(_mm256_add_epi32));
  return (float)(v[0] + v[7]);
}

/* Multiply-accumulates per loop iteration of a kernel. */
static double macs_per_iter(kernel k) {
  switch (k) {
    case K_F32_512: return ACCS * 16.0;
    case K_F32_256: return ACCS * 8.0;
    case K_VNNI_512: return ACCS * 64.0;
    case K_MADD_256: return ACCS * 16.0;
    case K_MADDUBS_256: return ACCS * 32.0;
    case K_NONE: break;
  }
  return 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct worker {
  kernel k;                  /* loop to run */
  double seconds;            /* how long */
  pthread_barrier_t *start;  /* all threads begin together */
  double rate;               /* out: MAC/s of this thread */
  volatile float sink;       /* out: the loop's value (kept) */
} worker;

static void *run_worker(void *arg) {
  worker *w = arg;
  pthread_barrier_wait(w->start);
  long chunks = 0;
  float sink = 0;
  double t0 = now_s(), t;
  do {
    if (w->k == K_F32_512) sink += loop_f32_512(CHUNK);
    else if (w->k == K_F32_256) sink += loop_f32_256(CHUNK);
    else if (w->k == K_MADD_256) sink += loop_madd_256(CHUNK);
    else if (w->k == K_MADDUBS_256) sink += loop_maddubs_256(CHUNK);
    else sink += loop_vnni_512(CHUNK);
    chunks++;
    t = now_s() - t0;
  } while (t < w->seconds);
  w->sink = sink;
  w->rate = (double)chunks * CHUNK * macs_per_iter(w->k) / t;
  return NULL;
}

/* Summed MAC/s of `threads` threads running kernel k together, best of
 * three tries. */
static double measure(kernel k, int threads, double seconds) {
  double best = 0;
  for (int attempt = 0; attempt < 3; attempt++) {
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads);
    worker w[64];
    pthread_t tid[64];
    for (int i = 0; i < threads; i++) {
      w[i] = (worker){k, seconds, &start, 0, 0};
      pthread_create(&tid[i], NULL, run_worker, &w[i]);
    }
    double sum = 0;
    for (int i = 0; i < threads; i++) {
      pthread_join(tid[i], NULL);
      sum += w[i].rate;
    }
    pthread_barrier_destroy(&start);
    if (sum > best) best = sum;
  }
  return best;
}

int main(int argc, char **argv) {
  double seconds = 0.5;
  int threads = 2, json = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) json = 1;
    else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
      seconds = atof(argv[++i]);
    else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
      threads = atoi(argv[++i]);
    else {
      fprintf(stderr,
              "usage: bench_peak [--seconds S] [--threads N] [--json]\n");
      return 2;
    }
  }
  if (threads < 1 || threads > 64 || seconds <= 0) {
    fprintf(stderr, "bench_peak: --threads 1..64, --seconds > 0\n");
    return 2;
  }
  cpu_caps caps = detect();
  kernel kf = caps.avx512 ? K_F32_512 : caps.avx2_fma ? K_F32_256 : K_NONE;
  kernel ki = caps.avx512_vnni ? K_VNNI_512
              : caps.avx2_fma  ? K_MADDUBS_256
                               : K_NONE;
  const char *isa_f = kf == K_F32_512   ? "avx512"
                      : kf == K_F32_256 ? "avx2_fma"
                                        : "none";
  const char *isa_i = ki == K_VNNI_512   ? "avx512_vnni"
                      : ki == K_MADD_256 ? "avx2_madd"
                      : ki == K_MADDUBS_256 ? "avx2_maddubs"
                                         : "none";
  double f[65] = {0}, q[65] = {0};
  for (int t = 1; t <= threads; t++) {
    f[t] = kf == K_NONE ? 0 : measure(kf, t, seconds) / 1e9;
    q[t] = ki == K_NONE ? 0 : measure(ki, t, seconds) / 1e9;
  }
  if (json) {
    printf("{\"f32\":{\"isa\":\"%s\",\"gmacs\":{", isa_f);
    for (int t = 1; t <= threads; t++)
      printf("%s\"%d\":%.1f", t > 1 ? "," : "", t, f[t]);
    printf("}},\"int8\":{\"isa\":\"%s\",\"gmacs\":{", isa_i);
    for (int t = 1; t <= threads; t++)
      printf("%s\"%d\":%.1f", t > 1 ? "," : "", t, q[t]);
    printf("}}}\n");
  } else {
    printf("| threads | float FMA (%s) GMAC/s | int8 (%s) GMAC/s |\n",
           isa_f, isa_i);
    printf("| ---: | ---: | ---: |\n");
    for (int t = 1; t <= threads; t++)
      printf("| %d | %.1f | %.1f |\n", t, f[t], q[t]);
  }
  return 0;
}
