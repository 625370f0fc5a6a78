// MW_CPU_CLONES: compile a hot loop twice, for AVX2 and for any x86-64, and pick at load time.
// The binary stays runnable everywhere while the loops use 8-wide vectors where they exist.
// Off under sanitizers, which do not instrument ifunc-dispatched clones well.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define MW_CPU_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define MW_CPU_CLONES
#endif
