// problem.c: making, checking, reading and writing the problems (chapter 1).
#include "problem.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

int apply_op(int op, int x, int y)
{
    switch (op) {
    case TOK_PLUS: return x + y;
    case TOK_MINUS: return x - y;
    default: return x * y; // TOK_TIMES
    }
}

int problem_value_position_of(const Problem *p, int var)
{
    for (int slot = 0; slot < NUM_VARS; slot++)
        if (p->tokens[name_position(slot)] == var)
            return value_position(slot);
    return -1; // not defined: problem_validate never lets this through
}

int problem_value_of(const Problem *p, int var)
{
    return int_of_token(p->tokens[problem_value_position_of(p, var)]);
}

bool problem_is_squaring(const Problem *p)
{
    return problem_op(p) == TOK_TIMES && problem_var1(p) == problem_var2(p);
}

uint32_t problem_key(const Problem *p)
{
    uint32_t key = 0;
    for (int v = 0; v < NUM_VARS; v++) // values of a, b, c, d: 10^4
        key = key * 10 + (uint32_t)problem_value_of(p, TOK_VAR_A + v);
    key = key * 4 + (uint32_t)(problem_var1(p) - TOK_VAR_A);
    key = key * 4 + (uint32_t)(problem_var2(p) - TOK_VAR_A);
    key = key * 3 + (uint32_t)(problem_op(p) - TOK_PLUS);
    return key; // < 10^4 * 16 * 3 = 480000
}

bool problem_is_test(const Problem *p)
{
    // A fixed salt so the split does not line up with any other use of mix64.
    return mix64(problem_key(p) ^ 0x4c6f6f704c656e73ULL) % 10 == 0;
}

// Puts the four names in a uniformly random order: each of the 24 orders has
// probability 1/24 (Fisher-Yates: position i takes one of the i+1 names left).
static void shuffle_names(Rng *rng, int names[NUM_VARS])
{
#ifdef LOOPLENS_SOLUTION
    for (int i = NUM_VARS - 1; i > 0; i--) {
        int j = (int)rng_below(rng, (uint32_t)i + 1);
        int t = names[i];
        names[i] = names[j];
        names[j] = t;
    }
#else
    // TODO(exercise ch01): shuffle names[0..3] in place so that each of the 24
    // orders is equally likely. Hint: walk i from 3 down to 1 and swap names[i]
    // with names[j], j drawn uniformly from 0..i with rng_below(rng, i + 1).
    (void)rng;
    (void)names;
#endif
}

// Draws one problem, ignoring the split.
static void draw_problem(Rng *rng, DefinitionOrder order, Problem *out)
{
    int names[NUM_VARS] = {TOK_VAR_A, TOK_VAR_A + 1, TOK_VAR_A + 2, TOK_VAR_A + 3};
    if (order == ORDER_SHUFFLED)
        shuffle_names(rng, names);
    int *tok = out->tokens;
    tok[POS_START] = TOK_START;
    for (int slot = 0; slot < NUM_VARS; slot++) {
        tok[name_position(slot)] = names[slot];
        tok[value_position(slot)] = token_of_int((int)rng_below(rng, 10));
    }
    int var1 = TOK_VAR_A + (int)rng_below(rng, NUM_VARS);
    int var2 = TOK_VAR_A + (int)rng_below(rng, NUM_VARS);
    int op = TOK_PLUS + (int)rng_below(rng, 3);
    tok[POS_VARS] = TOK_VARS;
    tok[POS_VAR1] = var1;
    tok[POS_VAR2] = var2;
    tok[POS_EQ] = TOK_EQ;
    tok[POS_ANS_WORD] = TOK_ANS_WORD;
    tok[POS_EQUALS] = TOK_EQUALS;
    tok[POS_VAR1_AGAIN] = var1;
    tok[POS_OP] = op;
    tok[POS_VAR2_AGAIN] = var2;
    tok[POS_ANS] = TOK_ANS;
    tok[POS_ANSWER] =
        token_of_int(apply_op(op, problem_value_of(out, var1), problem_value_of(out, var2)));
}

void problem_stream_init(ProblemStream *s, Split split, DefinitionOrder order, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    // The two splits use unrelated generator streams even for the same seed.
    rng_seed(&s->rng, seed ^ (split == SPLIT_TEST ? 0x7465737400000000ULL : 0));
    s->split = split;
    s->order = order;
}

void problem_stream_next(ProblemStream *s, Problem *out)
{
    // Rejection: redraw until the problem belongs to this stream's split.
    do {
        draw_problem(&s->rng, s->order, out);
    } while (problem_is_test(out) != (s->split == SPLIT_TEST));
    s->drawn++;
}

void problem_format(const Problem *p, char out[PROBLEM_TEXT_MAX])
{
    size_t used = 0;
    for (int i = 0; i < PROBLEM_LEN; i++) {
        const char *text = vocab_string(p->tokens[i]);
        used += (size_t)snprintf(out + used, PROBLEM_TEXT_MAX - used, i ? " %s" : "%s", text);
    }
}

bool problem_validate(const Problem *p, char *why, size_t why_size)
{
    const int *tok = p->tokens;
#define FAIL(...)                                                                                \
    do {                                                                                         \
        snprintf(why, why_size, __VA_ARGS__);                                                    \
        return false;                                                                            \
    } while (0)
#define EXPECT(pos, want)                                                                        \
    do {                                                                                         \
        if (tok[pos] != (want))                                                                  \
            FAIL("position %d: expected '%s', found '%s'", pos, vocab_string(want),              \
                 vocab_string(tok[pos]));                                                        \
    } while (0)

    EXPECT(POS_START, TOK_START);
    int defined_at[NUM_VARS] = {0}; // name position of each variable, 0 = not yet
    for (int slot = 0; slot < NUM_VARS; slot++) {
        int np = name_position(slot), vp = value_position(slot);
        if (!token_is_var(tok[np]))
            FAIL("position %d: expected a variable name (a, b, c, d), found '%s'", np,
                 vocab_string(tok[np]));
        int v = tok[np] - TOK_VAR_A;
        if (defined_at[v])
            FAIL("position %d: variable %s is defined twice (positions %d and %d)", np,
                 vocab_string(tok[np]), defined_at[v], np);
        defined_at[v] = np;
        if (!token_is_int(tok[vp]) || int_of_token(tok[vp]) < 0 || int_of_token(tok[vp]) > 9)
            FAIL("position %d: expected a value 0..9 for %s, found '%s'", vp,
                 vocab_string(tok[np]), vocab_string(tok[vp]));
    }
    EXPECT(POS_VARS, TOK_VARS);
    for (int pos = POS_VAR1; pos <= POS_VAR2; pos++)
        if (!token_is_var(tok[pos]))
            FAIL("position %d: expected a variable name (a, b, c, d), found '%s'", pos,
                 vocab_string(tok[pos]));
    EXPECT(POS_EQ, TOK_EQ);
    EXPECT(POS_ANS_WORD, TOK_ANS_WORD);
    EXPECT(POS_EQUALS, TOK_EQUALS);
    if (tok[POS_VAR1_AGAIN] != tok[POS_VAR1])
        FAIL("position %d: the equation's first variable '%s' differs from '%s' at position %d",
             POS_VAR1_AGAIN, vocab_string(tok[POS_VAR1_AGAIN]), vocab_string(tok[POS_VAR1]),
             POS_VAR1);
    if (!token_is_op(tok[POS_OP]))
        FAIL("position %d: expected an operator (+, -, *), found '%s'", POS_OP,
             vocab_string(tok[POS_OP]));
    if (tok[POS_VAR2_AGAIN] != tok[POS_VAR2])
        FAIL("position %d: the equation's second variable '%s' differs from '%s' at position %d",
             POS_VAR2_AGAIN, vocab_string(tok[POS_VAR2_AGAIN]), vocab_string(tok[POS_VAR2]),
             POS_VAR2);
    EXPECT(POS_ANS, TOK_ANS);
    int expected = apply_op(tok[POS_OP], problem_value_of(p, tok[POS_VAR1]),
                            problem_value_of(p, tok[POS_VAR2]));
    if (!token_is_int(tok[POS_ANSWER]) || int_of_token(tok[POS_ANSWER]) != expected)
        FAIL("position %d: the answer is '%s' but %s %s %s = %d", POS_ANSWER,
             vocab_string(tok[POS_ANSWER]), vocab_string(tok[POS_VAR1]), vocab_string(tok[POS_OP]),
             vocab_string(tok[POS_VAR2]), expected);
    return true;
#undef EXPECT
#undef FAIL
}

bool problem_parse(const char *line, Problem *out, char *why, size_t why_size)
{
    char buf[PROBLEM_TEXT_MAX * 2];
    size_t len = strlen(line);
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len >= sizeof buf) {
        snprintf(why, why_size, "line is too long (%zu characters) to be a problem", len);
        return false;
    }
    memcpy(buf, line, len);
    buf[len] = '\0';

    // Split on runs of spaces and tabs; count every token even past 20, so the
    // message can say "21 tokens".
    int count = 0;
    char *save = NULL;
    for (char *word = strtok_r(buf, " \t", &save); word; word = strtok_r(NULL, " \t", &save)) {
        int id = vocab_lookup(word);
        if (id < 0) {
            // Positions count from 0, as in SPEC section 1 and every other message.
            // Bytes that do not print (a byte-order mark, a tab from another
            // encoding) are shown as \xHH, or the message would look wrong.
            char shown[20 * 4 + 1];
            size_t n = 0;
            for (const unsigned char *c = (const unsigned char *)word; *c && n < 80; c++)
                n += (size_t)snprintf(shown + n, sizeof shown - n,
                                      *c >= 0x20 && *c < 0x7f ? "%c" : "\\x%02X", *c);
            snprintf(why, why_size, "position %d: '%s' is not in the vocabulary", count, shown);
            return false;
        }
        if (count < PROBLEM_LEN)
            out->tokens[count] = id;
        count++;
    }
    if (count != PROBLEM_LEN) {
        snprintf(why, why_size, "%d tokens, expected %d", count, PROBLEM_LEN);
        return false;
    }
    return problem_validate(out, why, why_size);
}

bool problem_set_read(const char *path, ProblemSet *out, GError **error)
{
    memset(out, 0, sizeof *out);
    char *contents = NULL;
    gsize size = 0;
    GError *local = NULL;
    if (!g_file_get_contents(path, &contents, &size, &local)) {
        // GLib's message repeats the path; ours names it once, then says why.
        int code = local->domain == G_FILE_ERROR ? local->code : -1;
        g_set_error(error, LL_ERROR, LL_ERROR_IO, "%s: cannot read: %s", path,
                    code == G_FILE_ERROR_NOENT ? "no such file"
                    : code == G_FILE_ERROR_ACCES ? "permission denied"
                    : code == G_FILE_ERROR_ISDIR ? "is a directory"
                                                 : local->message);
        g_error_free(local);
        return false;
    }
    GArray *items = g_array_new(FALSE, FALSE, sizeof(Problem));
    bool ok = true;
    long line_no = 0;
    for (gsize start = 0; ok && start < size;) {
        gsize end = start;
        while (end < size && contents[end] != '\n')
            end++;
        line_no++;
        gsize len = end - start;
        const char *line = contents + start;
        start = end + 1;
        // Some editors start a UTF-8 file with a byte-order mark (EF BB BF).
        // It is no token, and "'\uFEFF[START]' is not in the vocabulary"
        // would hide what is wrong: say so instead of guessing it away.
        if (line_no == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            g_set_error(error, LL_ERROR, LL_ERROR_PARSE,
                        "%s:1: starts with a UTF-8 byte-order mark; save it without one", path);
            ok = false;
            break;
        }
        if (memchr(line, '\0', len)) {
            g_set_error(error, LL_ERROR, LL_ERROR_PARSE, "%s:%ld: contains a NUL byte", path,
                        line_no);
            ok = false;
            break;
        }
        char text[PROBLEM_TEXT_MAX * 2];
        if (len >= sizeof text) {
            g_set_error(error, LL_ERROR, LL_ERROR_PARSE,
                        "%s:%ld: line is too long (%zu bytes) to be a problem", path, line_no,
                        (size_t)len);
            ok = false;
            break;
        }
        memcpy(text, line, len);
        text[len] = '\0';
        if (len > 0 && text[len - 1] == '\r') // CRLF line ends are fine
            text[len - 1] = '\0';
        const char *first = text + strspn(text, " \t");
        if (*first == '\0' || *first == '#')
            continue;
        Problem p;
        char why[256];
        if (!problem_parse(text, &p, why, sizeof why)) {
            g_set_error(error, LL_ERROR, LL_ERROR_PARSE, "%s:%ld: %s", path, line_no, why);
            ok = false;
            break;
        }
        g_array_append_val(items, p);
    }
    g_free(contents);
    if (ok && items->len == 0) {
        g_set_error(error, LL_ERROR, LL_ERROR_PARSE,
                    "%s: no problems (the file is empty or holds only comments and blank lines)",
                    path);
        ok = false;
    }
    if (!ok) {
        g_array_free(items, TRUE);
        return false;
    }
    out->count = items->len;
    out->items = (Problem *)g_array_free(items, FALSE);
    return true;
}

bool problem_set_write(const char *path, const Problem *items, size_t count, GError **error)
{
    AtomicFile f;
    if (!atomic_file_open(&f, path, error))
        return false;
    char text[PROBLEM_TEXT_MAX];
    for (size_t i = 0; i < count; i++) {
        problem_format(&items[i], text);
        fputs(text, f.fp);
        fputc('\n', f.fp);
    }
    return atomic_file_commit(&f, error);
}

void problem_set_free(ProblemSet *set)
{
    g_free(set->items);
    set->items = NULL;
    set->count = 0;
}

const char *order_name(DefinitionOrder order)
{
    return order == ORDER_SHUFFLED ? "shuffled" : "fixed";
}

bool order_parse(const char *text, DefinitionOrder *out)
{
    if (text && strcmp(text, "fixed") == 0) {
        *out = ORDER_FIXED;
        return true;
    }
    if (text && strcmp(text, "shuffled") == 0) {
        *out = ORDER_SHUFFLED;
        return true;
    }
    return false;
}
