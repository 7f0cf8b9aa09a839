// golden.h: the PyTorch fixture of tests/fixtures/, shared by chapter 5's
// golden tests (the plain model) and chapter 9's (the model with the boost).
// See ch05_golden.c for what the fixture holds and why its tolerance is 1e-5.
#ifndef LOOPLENS_GOLDEN_H
#define LOOPLENS_GOLDEN_H

#include "model.h"
#include "problem.h"
#include "safetensors.h"

#define GOLDEN_TOLERANCE 1e-5

typedef struct {
    GPT model;
    ProblemSet problems;
    Safetensors expected;
    int *tokens; // (P, T)
} Golden;

void golden_load(Golden *g);
void golden_free(Golden *g);
// The expected tensor `name`, which must hold count numbers.
const float *golden_expected(const Golden *g, const char *name, size_t count);
// Runs the model (with boost, or NULL) and compares the logits, the
// probabilities (without a boost) and every pattern with the fixture's tensors
// "logits<suffix>", "probs" and "pattern<suffix>"; fails the test at the first
// number off by more than GOLDEN_TOLERANCE. Returns the largest difference.
double golden_check_forward(Golden *g, const Boost *boost, const char *suffix);

#endif
