// ch01_problems.c: chapter 1's tests: the vocabulary, the generator's
// statistics, train/test disjointness, and the text reader and writer.
#include <math.h>
#include <string.h>

#include "problem.h"
#include "testutil.h"
#include "util.h"

// Within 5 binomial standard deviations: with a fixed seed the test is
// deterministic, and a generator biased by a few percent fails it at n = 120,000.
static void assert_share(const char *what, long count, long n, double p)
{
    double expected = n * p, sigma = sqrt(n * p * (1 - p));
    if (fabs(count - expected) > 5 * sigma)
        g_test_fail_printf("%s: %ld of %ld, expected %.0f +- %.0f (5 sigma)", what, count, n,
                           expected, 5 * sigma);
}

static void test_vocab_round_trip(void)
{
    g_assert_cmpint(VOCAB_SIZE, ==, 104);
    for (int id = 0; id < VOCAB_SIZE; id++)
        g_assert_cmpint(vocab_lookup(vocab_string(id)), ==, id);
    g_assert_cmpstr(vocab_string(token_of_int(35)), ==, "35");
    g_assert_cmpstr(vocab_string(token_of_int(-9)), ==, "-9");
    const char *not_tokens[] = {"", "e", "82", "-10", "007", "-0", "+5", "[start]", "A", NULL};
    for (int k = 0; not_tokens[k]; k++)
        g_assert_cmpint(vocab_lookup(not_tokens[k]), ==, -1);
    g_assert_null(vocab_string(-1));
    g_assert_null(vocab_string(VOCAB_SIZE));
}

static void check_statistics(DefinitionOrder order, Split split)
{
    const long n = 120000;
    ProblemStream s;
    problem_stream_init(&s, split, order, 12345);
    long ops[3] = {0}, pairs[4][4] = {{0}}, squaring = 0, values[4][10] = {{0}};
    GHashTable *orders = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (long i = 0; i < n; i++) {
        Problem p;
        problem_stream_next(&s, &p);
        char why[256];
        if (!problem_validate(&p, why, sizeof why))
            g_test_fail_printf("problem %ld is invalid: %s", i, why);
        g_assert_cmpint(problem_is_test(&p), ==, split == SPLIT_TEST);
        ops[problem_op(&p) - TOK_PLUS]++;
        pairs[problem_var1(&p) - TOK_VAR_A][problem_var2(&p) - TOK_VAR_A]++;
        squaring += problem_is_squaring(&p);
        int order_code = 0;
        for (int slot = 0; slot < NUM_VARS; slot++) {
            values[slot][int_of_token(p.tokens[value_position(slot)])]++;
            order_code = order_code * 4 + (p.tokens[name_position(slot)] - TOK_VAR_A);
        }
        gpointer key = GINT_TO_POINTER(order_code + 1);
        g_hash_table_insert(orders, key,
                            GINT_TO_POINTER(GPOINTER_TO_INT(g_hash_table_lookup(orders, key)) + 1));
    }
    for (int k = 0; k < 3; k++)
        assert_share("operator", ops[k], n, 1.0 / 3);
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            assert_share("(var1, var2) pair", pairs[a][b], n, 1.0 / 16);
    assert_share("squaring problems", squaring, n, 1.0 / 12);
    for (int slot = 0; slot < 4; slot++)
        for (int v = 0; v < 10; v++)
            assert_share("value", values[slot][v], n, 1.0 / 10);
    if (order == ORDER_FIXED) {
        g_assert_cmpuint(g_hash_table_size(orders), ==, 1);
        g_assert_cmpint(GPOINTER_TO_INT(g_hash_table_lookup(orders, GINT_TO_POINTER(0 * 64 + 1 * 16 + 2 * 4 + 3 + 1))), ==, n);
    } else {
        if (g_hash_table_size(orders) != 24)
            g_test_fail_printf("shuffled definitions: %u of the 24 orders of a b c d appear in "
                               "%ld problems; does shuffle_names give every order?",
                               g_hash_table_size(orders), n);
        GHashTableIter it;
        gpointer key, value;
        g_hash_table_iter_init(&it, orders);
        while (g_hash_table_iter_next(&it, &key, &value))
            assert_share("definition order", GPOINTER_TO_INT(value), n, 1.0 / 24);
    }
    g_hash_table_destroy(orders);
}

static void test_statistics_fixed_train(void) { check_statistics(ORDER_FIXED, SPLIT_TRAIN); }
static void test_statistics_shuffled_train(void) { check_statistics(ORDER_SHUFFLED, SPLIT_TRAIN); }
static void test_statistics_shuffled_test(void) { check_statistics(ORDER_SHUFFLED, SPLIT_TEST); }

static void test_train_test_disjoint(void)
{
    // Every problem of a 20,000-problem test set has a key (its meaning,
    // whatever the definition order) that 600,000 training problems never hit.
    for (int o = 0; o < 2; o++) {
        DefinitionOrder order = o ? ORDER_SHUFFLED : ORDER_FIXED;
        GHashTable *test_keys = g_hash_table_new(g_direct_hash, g_direct_equal);
        ProblemStream test, train;
        problem_stream_init(&test, SPLIT_TEST, order, 7);
        for (int i = 0; i < 20000; i++) {
            Problem p;
            problem_stream_next(&test, &p);
            g_hash_table_add(test_keys, GUINT_TO_POINTER(problem_key(&p) + 1));
        }
        problem_stream_init(&train, SPLIT_TRAIN, order, 7);
        long overlap = 0;
        for (int i = 0; i < 600000; i++) {
            Problem p;
            problem_stream_next(&train, &p);
            overlap += g_hash_table_contains(test_keys, GUINT_TO_POINTER(problem_key(&p) + 1));
        }
        g_assert_cmpint(overlap, ==, 0);
        // The test split is one key in ten of 480,000, so 20,000 draws hit
        // many distinct keys (about 16,900): it is not a tiny set repeated.
        g_assert_cmpuint(g_hash_table_size(test_keys), >, 15000);
        g_hash_table_destroy(test_keys);
    }
}

static void test_test_split_share(void)
{
    // One key in ten is a test key: count over the whole key space.
    long test_keys = 0;
    Problem p;
    for (int i = 0; i < PROBLEM_LEN; i++)
        p.tokens[i] = 0;
    for (int slot = 0; slot < 4; slot++)
        p.tokens[name_position(slot)] = TOK_VAR_A + slot;
    for (int values = 0; values < 10000; values++) {
        int v = values;
        for (int slot = 3; slot >= 0; slot--, v /= 10)
            p.tokens[value_position(slot)] = token_of_int(v % 10);
        for (int pair = 0; pair < 16; pair++)
            for (int op = 0; op < 3; op++) {
                p.tokens[POS_VAR1] = TOK_VAR_A + pair / 4;
                p.tokens[POS_VAR2] = TOK_VAR_A + pair % 4;
                p.tokens[POS_OP] = TOK_PLUS + op;
                test_keys += problem_is_test(&p);
            }
    }
    assert_share("test keys", test_keys, 480000, 0.1);
}

static void test_text_round_trip(void)
{
    for (int o = 0; o < 2; o++) {
        ProblemStream s;
        problem_stream_init(&s, SPLIT_TRAIN, o ? ORDER_SHUFFLED : ORDER_FIXED, 99);
        for (int i = 0; i < 5000; i++) {
            Problem p, q;
            problem_stream_next(&s, &p);
            char text[PROBLEM_TEXT_MAX], again[PROBLEM_TEXT_MAX], why[256];
            problem_format(&p, text);
            if (!problem_parse(text, &q, why, sizeof why))
                g_test_fail_printf("'%s' does not parse: %s", text, why);
            g_assert_cmpmem(p.tokens, sizeof p.tokens, q.tokens, sizeof q.tokens);
            problem_format(&q, again);
            g_assert_cmpstr(text, ==, again);
        }
    }
    Problem p;
    char why[256], text[PROBLEM_TEXT_MAX];
    const char *seed_example = "[START] a 5 b 3 c 7 d 2 [VARS] a c [EQ] ans = a * c [ANS] 35";
    g_assert_true(problem_parse(seed_example, &p, why, sizeof why));
    problem_format(&p, text);
    g_assert_cmpstr(text, ==, seed_example);
    g_assert_cmpint(problem_answer(&p), ==, 35);
    g_assert_false(problem_is_squaring(&p));
}

typedef struct {
    const char *line;
    const char *reason; // a part of the message
} BadLine;

static void test_reader_rejects(void)
{
    const BadLine cases[] = {
        {"[START] a 5 b 3 c 7 d 2 [VARS] a c [EQ] ans = a * c [ANS]", "19 tokens"},
        {"[START] a 5 b 3 c 7 d 2 [VARS] a c [EQ] ans = a * c [ANS] 35 35", "21 tokens"},
        {"[START] a 5 b 3 c 7 e 2 [VARS] a c [EQ] ans = a * c [ANS] 35", "'e' is not in the vocabulary"},
        // Positions count from 0 in every message, an unknown token's too.
        {"[START] a 5 b 3 c 7 e 2 [VARS] a c [EQ] ans = a * c [ANS] 35", "position 7: 'e' is not"},
        {"x a 5 b 3 c 7 d 2 [VARS] a c [EQ] ans = a * c [ANS] 35", "position 0: 'x' is not"},
        {"[START] a 5 a 3 c 7 d 2 [VARS] a c [EQ] ans = a * c [ANS] 35", "defined twice (positions 1 and 3)"},
        {"[START] 5 5 b 3 c 7 d 2 [VARS] a c [EQ] ans = a * c [ANS] 35", "position 1: expected a variable name"},
        {"[START] a 10 b 3 c 7 d 2 [VARS] a c [EQ] ans = a * c [ANS] 50", "position 2: expected a value 0..9"},
        {"[START] a 5 b 3 c 7 d 2 [VARS] a c [EQ] ans = b * c [ANS] 21", "position 15"},
        {"[START] a 5 b 3 c 7 d 2 [VARS] a c [EQ] ans = a * d [ANS] 10", "position 17"},
        {"[START] a 5 b 3 c 7 d 2 [VARS] a c [EQ] ans = a * c [ANS] 36", "the answer is '36' but a * c = 35"},
        {"[START] a 5 b 3 c 7 d 2 [VARS] a c [EQ] ans = a c c [ANS] 35", "position 16: expected an operator"},
        {"[VARS] a 5 b 3 c 7 d 2 [VARS] a c [EQ] ans = a * c [ANS] 35", "position 0"},
    };
    for (size_t k = 0; k < G_N_ELEMENTS(cases); k++) {
        char *text = g_strdup_printf("# a comment\n\n%s\n", cases[k].line);
        char *path = test_write_file("bad.txt", text);
        ProblemSet set;
        GError *error = NULL;
        g_assert_false(problem_set_read(path, &set, &error));
        g_assert_nonnull(error);
        char *prefix = g_strdup_printf("%s:3: ", path); // FILE:LINE:
        if (!g_str_has_prefix(error->message, prefix) || !strstr(error->message, cases[k].reason))
            g_test_fail_printf("case %zu: message '%s' lacks '%s' or '%s'", k, error->message,
                               prefix, cases[k].reason);
        g_free(prefix);
        g_error_free(error);
        g_free(path);
        g_free(text);
    }
}

// A UTF-8 byte-order mark is named as such, not as a strange first token.
static void test_reader_names_a_bom(void)
{
    char *path = test_write_file(
        "bom.txt", "\xEF\xBB\xBF[START] a 5 b 3 c 7 d 2 [VARS] a c [EQ] ans = a * c [ANS] 35\n");
    ProblemSet set;
    GError *error = NULL;
    g_assert_false(problem_set_read(path, &set, &error));
    char *expected =
        g_strdup_printf("%s:1: starts with a UTF-8 byte-order mark; save it without one", path);
    g_assert_cmpstr(error->message, ==, expected);
    g_free(expected);
    g_clear_error(&error);
    g_free(path);
    // One on a later line (two files pasted together) shows as bytes.
    path = test_write_file(
        "bom2.txt", "[START] a 5 b 3 c 7 d 2 [VARS] a c [EQ] ans = a * c [ANS] 35\n"
                    "\xEF\xBB\xBF[START] a 5 b 3 c 7 d 2 [VARS] a c [EQ] ans = a * c [ANS] 35\n");
    g_assert_false(problem_set_read(path, &set, &error));
    expected = g_strdup_printf(
        "%s:2: position 0: '\\xEF\\xBB\\xBF[START]' is not in the vocabulary", path);
    g_assert_cmpstr(error->message, ==, expected);
    g_free(expected);
    g_error_free(error);
    g_free(path);
}

static void test_reader_accepts_crlf_comments_blanks(void)
{
    char *path = test_write_file(
        "ok.txt", "# problems\r\n\r\n[START] a 5 b 3 c 7 d 2 [VARS] a c [EQ] ans = a * c [ANS] 35\r\n"
                  "   \n[START] d 1 c 2 b 3 a 4 [VARS] b b [EQ] ans = b * b [ANS] 9");
    ProblemSet set;
    GError *error = NULL;
    g_assert_true(problem_set_read(path, &set, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(set.count, ==, 2);
    g_assert_true(problem_is_squaring(&set.items[1]));
    g_assert_cmpint(problem_value_of(&set.items[1], TOK_VAR_A + 1), ==, 3);
    g_assert_cmpint(problem_value_position_of(&set.items[1], TOK_VAR_A + 1), ==, 6);
    problem_set_free(&set);
    g_free(path);
}

static void test_reader_empty_file_is_an_error(void)
{
    const char *empties[] = {"", "# only a comment\n\n"};
    for (int k = 0; k < 2; k++) {
        char *path = test_write_file("empty.txt", empties[k]);
        ProblemSet set;
        GError *error = NULL;
        g_assert_false(problem_set_read(path, &set, &error));
        g_assert_nonnull(strstr(error->message, "no problems"));
        g_error_free(error);
        g_free(path);
    }
    ProblemSet set;
    GError *error = NULL;
    g_assert_false(problem_set_read("/nonexistent-looplens.txt", &set, &error));
    g_assert_nonnull(strstr(error->message, "/nonexistent-looplens.txt"));
    g_error_free(error);
}

static void test_reader_binary_garbage(void)
{
    // A NUL byte and an overlong line are errors, not crashes.
    char *path = test_path("nul.txt");
    g_assert_true(g_file_set_contents(path, "[START] a\0 5", 12, NULL));
    ProblemSet set;
    GError *error = NULL;
    g_assert_false(problem_set_read(path, &set, &error));
    g_assert_nonnull(strstr(error->message, ":1: contains a NUL byte"));
    g_clear_error(&error);
    char *long_line = g_strnfill(100000, 'x');
    g_assert_true(g_file_set_contents(path, long_line, -1, NULL));
    g_assert_false(problem_set_read(path, &set, &error));
    g_assert_nonnull(strstr(error->message, ":1: line is too long"));
    g_clear_error(&error);
    g_free(long_line);
    g_free(path);
}

static void test_write_read_same_seed_same_bytes(void)
{
    char *paths[3];
    for (int k = 0; k < 3; k++) {
        ProblemStream s;
        problem_stream_init(&s, SPLIT_TEST, ORDER_SHUFFLED, k < 2 ? 7 : 8);
        Problem items[500];
        for (int i = 0; i < 500; i++)
            problem_stream_next(&s, &items[i]);
        char name[32];
        snprintf(name, sizeof name, "set%d.txt", k);
        paths[k] = test_path(name);
        GError *error = NULL;
        g_assert_true(problem_set_write(paths[k], items, 500, &error));
        ProblemSet back;
        g_assert_true(problem_set_read(paths[k], &back, &error));
        g_assert_cmpuint(back.count, ==, 500);
        g_assert_cmpmem(back.items, sizeof items, items, sizeof items);
        problem_set_free(&back);
    }
    char *a, *b, *c;
    gsize la, lb, lc;
    g_assert_true(g_file_get_contents(paths[0], &a, &la, NULL));
    g_assert_true(g_file_get_contents(paths[1], &b, &lb, NULL));
    g_assert_true(g_file_get_contents(paths[2], &c, &lc, NULL));
    g_assert_cmpmem(a, la, b, lb);                            // same seed: same bytes
    g_assert_false(la == lc && memcmp(a, c, la) == 0); // another seed: other bytes
    g_free(a);
    g_free(b);
    g_free(c);
    for (int k = 0; k < 3; k++)
        g_free(paths[k]);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ch01/vocab/round-trip", test_vocab_round_trip);
    g_test_add_func("/ch01/generator/statistics-fixed-train", test_statistics_fixed_train);
    g_test_add_func("/ch01/generator/statistics-shuffled-train", test_statistics_shuffled_train);
    g_test_add_func("/ch01/generator/statistics-shuffled-test", test_statistics_shuffled_test);
    g_test_add_func("/ch01/split/disjoint", test_train_test_disjoint);
    g_test_add_func("/ch01/split/one-key-in-ten", test_test_split_share);
    g_test_add_func("/ch01/text/round-trip", test_text_round_trip);
    g_test_add_func("/ch01/reader/rejects", test_reader_rejects);
    g_test_add_func("/ch01/reader/bom", test_reader_names_a_bom);
    g_test_add_func("/ch01/reader/crlf-comments-blanks", test_reader_accepts_crlf_comments_blanks);
    g_test_add_func("/ch01/reader/empty-file", test_reader_empty_file_is_an_error);
    g_test_add_func("/ch01/reader/binary-garbage", test_reader_binary_garbage);
    g_test_add_func("/ch01/writer/same-seed-same-bytes", test_write_read_same_seed_same_bytes);
    return g_test_run();
}
