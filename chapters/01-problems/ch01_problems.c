// ch01_problems.c: chapter 1's program. It makes a few problems, lays them out
// by position like the table in the book, and counts what a test set holds.
//
//   build/chapters/01-problems/ch01-problems [--order fixed|shuffled] [--seed S]
#include <stdio.h>
#include <string.h>

#include "problem.h"
#include "util.h"

static void print_by_position(const Problem *problems, int n)
{
    printf("pos:");
    for (int pos = 0; pos < PROBLEM_LEN; pos++)
        printf(" %7d", pos);
    printf("\n");
    for (int i = 0; i < n; i++) {
        printf("    ");
        for (int pos = 0; pos < PROBLEM_LEN; pos++)
            printf(" %7s", vocab_string(problems[i].tokens[pos]));
        printf("%s\n", problem_is_squaring(&problems[i]) ? "   <- squaring" : "");
    }
}

int main(int argc, char **argv)
{
    DefinitionOrder order = ORDER_FIXED;
    uint64_t seed = 2026;
    for (int i = 1; i < argc; i++) {
        GError *error = NULL;
        if (strcmp(argv[i], "--order") == 0 && i + 1 < argc) {
            if (!order_parse(argv[++i], &order)) {
                fprintf(stderr, "ch01-problems: --order: expected fixed or shuffled\n");
                return 1;
            }
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            if (!parse_uint64(argv[++i], "--seed", &seed, &error)) {
                fprintf(stderr, "ch01-problems: %s\n", error->message);
                g_error_free(error);
                return 1;
            }
        } else {
            fprintf(stderr, "usage: ch01-problems [--order fixed|shuffled] [--seed S]\n");
            return 1;
        }
    }

    printf("Chapter 1: eight %s-order test problems from seed %llu\n\n", order_name(order),
           (unsigned long long)seed);
    ProblemStream stream;
    problem_stream_init(&stream, SPLIT_TEST, order, seed);
    Problem examples[8];
    for (int i = 0; i < 8; i++)
        problem_stream_next(&stream, &examples[i]);
    print_by_position(examples, 8);

    // What a 12,000-problem test set (the experiment's size) holds.
    const int n = 12000;
    int per_op[3] = {0}, squaring = 0;
    problem_stream_init(&stream, SPLIT_TEST, order, seed);
    for (int i = 0; i < n; i++) {
        Problem p;
        problem_stream_next(&stream, &p);
        per_op[problem_op(&p) - TOK_PLUS]++;
        squaring += problem_is_squaring(&p);
    }
    printf("\nIn %d test problems:\n", n);
    for (int k = 0; k < 3; k++)
        printf("  op %s  %5d  (%.1f%%, expected 33.3%%)\n", vocab_string(TOK_PLUS + k), per_op[k],
               100.0 * per_op[k] / n);
    printf("  squaring (x * x)  %5d  (%.1f%%, expected 1/3 * 1/4 = 8.3%%)\n", squaring,
           100.0 * squaring / n);
    return 0;
}
