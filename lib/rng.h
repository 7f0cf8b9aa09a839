// rng.h: the project's own pseudo-random number generator.
//
// Every random choice in LoopLens (the problems, the weight initialisation, the
// order of training data) comes from here, so that the same seed gives the same
// bytes on every machine and with every compiler. It is xoshiro256** (Blackman &
// Vigna), seeded through splitmix64; both use only 64-bit integer arithmetic,
// whose results C fixes exactly.
#ifndef LOOPLENS_RNG_H
#define LOOPLENS_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} Rng;

// splitmix64's output function: a bijective scrambler of 64-bit words. Also used
// on its own as a hash (see problem_is_test).
uint64_t mix64(uint64_t x);

void rng_seed(Rng *rng, uint64_t seed);
uint64_t rng_u64(Rng *rng);
// Uniform integer in [0, n), n >= 1, without modulo bias (rejection sampling).
uint32_t rng_below(Rng *rng, uint32_t n);
// Uniform double in [0, 1) with 53 random bits.
double rng_uniform(Rng *rng);
// Standard normal N(0, 1) by the Box-Muller transform. It draws two uniforms and
// uses one result, so the stream depends on nothing but the generator's state.
double rng_normal(Rng *rng);

#endif
