// rng.c: xoshiro256** seeded by splitmix64. See rng.h for why it is our own.
#include "rng.h"

#include <math.h>

uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void rng_seed(Rng *rng, uint64_t seed)
{
    // The first four outputs of splitmix64 started at `seed`; they are never all
    // zero, which xoshiro forbids.
    for (int i = 0; i < 4; i++)
        rng->s[i] = mix64(seed + (uint64_t)i * 0x9e3779b97f4a7c15ULL);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t rng_u64(Rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint32_t rng_below(Rng *rng, uint32_t n)
{
    // Accept only draws below the largest multiple of n that fits in 2^32, so
    // every residue is equally likely.
    uint32_t limit = UINT32_MAX - (UINT32_MAX % n);
    for (;;) {
        uint32_t r = (uint32_t)(rng_u64(rng) >> 32);
        if (r < limit)
            return r % n;
    }
}

double rng_uniform(Rng *rng)
{
    return (double)(rng_u64(rng) >> 11) * 0x1.0p-53;
}

double rng_normal(Rng *rng)
{
    double u1 = 1.0 - rng_uniform(rng); // in (0, 1], so log(u1) is finite
    double u2 = rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
