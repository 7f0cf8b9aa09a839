// booktool.c: keeps BOOK.md honest.
//
//   booktool check [OPTIONS] BOOK.md    exit 1 if anything is out of date
//   booktool sync  [OPTIONS] BOOK.md    rewrite it from the code and results
//
//   --results DIR   where DIR/<model>/summary.json are (default out/)
//   --build DIR     the build folder that "build/" in an output mark means
//                   (default: build/ next to the book)
//   --only KINDS    check or sync only these kinds of marks, a comma-separated
//                   list of quotes, numbers, outputs (default: all three)
//   --quotes-only   the same as --only quotes
//
// Three kinds of marks in the book are kept in sync, never by hand:
//
//   <!-- quote lib/attention_loops.c attention_forward_loops -->
//   ```c
//   ...the function, exactly as it stands in the source...
//   ```
//
//   <!-- n fixed.bad.count %d -->57<!-- /n -->
//
//   <!-- output:1-12 build/chapters/05-gpt/ch05-gpt --seed 2026 -->
//   ```text
//   ...lines 1 to 12 of what the program prints...
//   ```
//
// A quote holds the whole definition of a function (from its first line to the
// closing "}" in column 0). In the student copy (tools/export-workbook) an
// exercise's quote is replaced by a placeholder ("// Exercise: you write this
// in ..."); a placeholder is accepted wherever the function has no solution
// block (#ifdef SOLUTION_MARK), so the student's copy of the book checks
// clean whatever the student wrote.
//
// A number is a field of DIR/<model>/summary.json (DIR defaults to out/, written
// by `looplens experiment`), printed with the given format: %d, %.Nf, or %.Np
// for a percentage (0.123 -> 12.3%). Fields may be added and divided once:
// "m.a.count+m.b.count/m.count" is (a + b) / count.
//
// An output is what a command prints, run from the top of the source tree with
// LC_ALL=C; ":FIRST-LAST" (1-based, inclusive; "FIRST-" to the end) keeps some
// lines, for programs that also print timings. The source tree's absolute path
// is cut from the output, so the book reads the same on every machine. The
// command must succeed.
#include <locale.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <json-glib/json-glib.h>

typedef struct {
    const char *root;    // the source tree, where quoted files are found
    const char *results; // where DIR/<model>/summary.json are
    const char *build;   // what "build/" in an output mark means
    bool check_quotes;   // which kinds of marks to check or sync (--only);
    bool check_numbers;  //   the others are left as they are
    bool check_outputs;
    int problems;        // how many marks are out of date or broken
    int broken;          // of those, broken: sync cannot mend them
} Book;

#define PLACEHOLDER "// Exercise: you write this in "
// The macro of solution blocks, spelt in two pieces so that this file does not
// itself look like one to tools/export-workbook.
#define SOLUTION_MARK "LOOPLENS_" "SOLUTION"

// The definition of `name` in `path`: from the line that starts (in column 0)
// a definition of name( to the next "}" in column 0. NULL if not found.
static char *function_source(const char *path, const char *name)
{
    char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return NULL;
    char *call = g_strdup_printf("%s(", name);
    char **lines = g_strsplit(text, "\n", -1);
    GString *out = NULL;
    for (int i = 0; lines[i] && !out; i++) {
        const char *hit = strstr(lines[i], call);
        bool starts_definition = hit && lines[i][0] != ' ' && lines[i][0] != '/' &&
                                 lines[i][0] != '#' && (hit == lines[i] || hit[-1] == ' ' ||
                                                        hit[-1] == '*');
        if (!starts_definition || g_str_has_suffix(lines[i], ";"))
            continue;
        // A definition, not a prototype: some line before the next ';' at
        // column 0 opens a body.
        out = g_string_new(NULL);
        for (int j = i; lines[j]; j++) {
            g_string_append_printf(out, "%s\n", lines[j]);
            if (strcmp(lines[j], "}") == 0)
                break;
        }
    }
    g_strfreev(lines);
    g_free(call);
    g_free(text);
    return out ? g_string_free(out, FALSE) : NULL;
}

// The number at a dotted path like "fixed.bad.count" in DIR/fixed/summary.json.
static bool lookup_field(const Book *book, const char *dotted, double *out)
{
    char **parts = g_strsplit(dotted, ".", -1);
    bool ok = false;
    char *path = g_build_filename(book->results, parts[0], "summary.json", NULL);
    JsonParser *parser = json_parser_new();
    if (parts[1] && json_parser_load_from_file(parser, path, NULL)) {
        JsonNode *node = json_parser_get_root(parser);
        for (int i = 1; parts[i] && node; i++) {
            JsonObject *obj = JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
            node = obj && json_object_has_member(obj, parts[i])
                       ? json_object_get_member(obj, parts[i])
                       : NULL;
        }
        if (node && JSON_NODE_HOLDS_VALUE(node)) {
            *out = json_node_get_double(node);
            ok = true;
        }
    }
    g_object_unref(parser);
    g_free(path);
    g_strfreev(parts);
    return ok;
}

// A sum of fields "A+B+...", and optionally "/C+D+...": the ratio of two sums.
static bool lookup_sum(const Book *book, const char *terms, double *out)
{
    char **fields = g_strsplit(terms, "+", -1);
    bool ok = fields[0] != NULL;
    double sum = 0.0;
    for (int i = 0; ok && fields[i]; i++) {
        double x = 0.0;
        ok = lookup_field(book, fields[i], &x);
        sum += x;
    }
    g_strfreev(fields);
    *out = sum;
    return ok;
}

static bool lookup_number(const Book *book, const char *path, double *out)
{
    char **sides = g_strsplit(path, "/", -1);
    int n = g_strv_length(sides);
    double numerator = 0.0, denominator = 1.0;
    bool ok = (n == 1 || n == 2) && lookup_sum(book, sides[0], &numerator) &&
              (n == 1 || (lookup_sum(book, sides[1], &denominator) && denominator != 0.0));
    if (ok)
        *out = numerator / denominator;
    g_strfreev(sides);
    return ok;
}

static char *format_number(double value, const char *format)
{
    char buf[64];
    if (strcmp(format, "%d") == 0)
        snprintf(buf, sizeof buf, "%.0f", value);
    else if (g_str_has_prefix(format, "%.") && g_str_has_suffix(format, "p")) {
        int digits = atoi(format + 2);
        snprintf(buf, sizeof buf, "%.*f%%", digits, 100 * value);
    } else if (g_str_has_prefix(format, "%.") && g_str_has_suffix(format, "f"))
        snprintf(buf, sizeof buf, "%.*f", atoi(format + 2), value);
    else
        return NULL;
    return g_strdup(buf);
}

// Replaces every occurrence of `from` in text with `to` (returns a new string).
static char *replace_all(const char *text, const char *from, const char *to)
{
    char **parts = g_strsplit(text, from, -1);
    char *joined = g_strjoinv(to, parts);
    g_strfreev(parts);
    return joined;
}

// What `command` prints (lines first..last, 1-based; last 0: to the end), run
// from the source root; NULL with a reason in *why if it cannot be run, fails,
// or prints fewer lines than asked for.
static char *command_output(const Book *book, const char *command, int first, int last,
                            char **why)
{
    char **argv = NULL;
    if (!g_shell_parse_argv(command, NULL, &argv, NULL)) {
        *why = g_strdup("cannot split the command into words");
        return NULL;
    }
    if (g_str_has_prefix(argv[0], "build/")) {
        char *program = g_build_filename(book->build, argv[0] + strlen("build/"), NULL);
        g_free(argv[0]);
        argv[0] = program;
    }
    char **env = g_environ_setenv(g_get_environ(), "LC_ALL", "C", TRUE);
    char *out = NULL, *err = NULL;
    int status = 0;
    GError *error = NULL;
    char *result = NULL;
    if (!g_spawn_sync(book->root, argv, env, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status,
                      &error)) {
        *why = g_strdup(error->message);
        g_error_free(error);
    } else if (!g_spawn_check_wait_status(status, NULL)) {
        *why = g_strdup_printf("it failed: %s", err && *err ? g_strstrip(err) : "no message");
    } else {
        // The tree's absolute path, so "/home/me/looplens/assets/x" reads "assets/x".
        char *absolute = g_canonicalize_filename(book->root, NULL);
        char *prefix = g_strconcat(absolute, "/", NULL);
        char *relative = replace_all(out, prefix, "");
        char **lines = g_strsplit(relative, "\n", -1);
        int n = g_strv_length(lines);
        if (n > 0 && lines[n - 1][0] == '\0')
            n--; // the text after the final newline
        int to = last ? last : n;
        if (first < 1 || to < first || to > n) {
            *why = g_strdup_printf("it printed %d lines; the mark asks for %d-%d", n, first, to);
        } else {
            GString *kept = g_string_new(NULL);
            for (int i = first - 1; i < to; i++)
                g_string_append_printf(kept, "%s\n", lines[i]);
            result = g_string_free(kept, FALSE);
        }
        g_strfreev(lines);
        g_free(relative);
        g_free(prefix);
        g_free(absolute);
    }
    g_free(out);
    g_free(err);
    g_strfreev(env);
    g_strfreev(argv);
    return result;
}

// "output" or "output:FIRST-LAST" -> the line range (last 0: to the end).
static bool parse_output_word(const char *word, int *first, int *last)
{
    *first = 1;
    *last = 0;
    if (strcmp(word, "output") == 0)
        return true;
    if (!g_str_has_prefix(word, "output:"))
        return false;
    char *end = NULL;
    long a = strtol(word + 7, &end, 10);
    if (end == word + 7 || *end != '-' || a < 1 || a > 100000)
        return false;
    const char *rest = end + 1;
    long b = 0;
    if (*rest) {
        b = strtol(rest, &end, 10);
        if (*end || b < a || b > 100000)
            return false;
    }
    *first = (int)a;
    *last = (int)b;
    return true;
}

// The next mark at or after p: "<!-- quote ", "<!-- n " or "<!-- output".
static const char *next_mark(const char *p)
{
    static const char *const kinds[] = {"<!-- quote ", "<!-- n ", "<!-- output"};
    const char *best = NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
        const char *hit = strstr(p, kinds[i]);
        if (hit && (!best || hit < best))
            best = hit;
    }
    return best;
}

// A fenced block right after a mark: "\n```LANG\n" BODY "```". Sets *body and
// *end (the closing fence) or returns false.
static bool fenced_block(const char *after_mark, const char *lang, const char **body,
                         const char **end)
{
    char *open = g_strdup_printf("\n```%s\n", lang);
    bool ok = g_str_has_prefix(after_mark, open);
    if (ok) {
        *body = after_mark + strlen(open);
        *end = strstr(*body, "```");
        ok = *end != NULL && (*end == *body || (*end)[-1] == '\n');
    }
    g_free(open);
    return ok;
}

// A quote mark: the function's source in a ```c block.
static const char *process_quote(Book *book, GString *out, const char *mark_start,
                                 const char *close, char **words, const char *book_path, int line)
{
    const char *body = NULL, *end = NULL;
    bool has_block = fenced_block(close + 3, "c", &body, &end);
    if (has_block && !book->check_quotes) {
        g_string_append_len(out, mark_start, end - mark_start);
        return end;
    }
    char *file = words[1] && words[2] ? g_build_filename(book->root, words[1], NULL) : NULL;
    char *source = file ? function_source(file, words[2]) : NULL;
    const char *p;
    if (!has_block || !source) {
        fprintf(stderr, "%s:%d: bad quote mark (need a ```c block and %s %s to exist)\n",
                book_path, line, words[1] ? words[1] : "?", words[2] ? words[2] : "?");
        book->problems++;
        book->broken++;
        g_string_append_len(out, mark_start, close + 3 - mark_start);
        p = close + 3;
    } else if (g_str_has_prefix(body, PLACEHOLDER) && !strstr(source, SOLUTION_MARK)) {
        // The student copy: the exercise stays the student's.
        g_string_append_len(out, mark_start, end - mark_start);
        p = end;
    } else {
        if (strlen(source) != (size_t)(end - body) || strncmp(source, body, end - body)) {
            fprintf(stderr, "%s:%d: the quote of %s in %s differs from the source\n", book_path,
                    line, words[2], words[1]);
            book->problems++;
        }
        g_string_append_len(out, mark_start, body - mark_start);
        g_string_append(out, source);
        p = end;
    }
    g_free(source);
    g_free(file);
    return p;
}

// A number mark: VALUE<!-- /n -->.
static const char *process_number(Book *book, GString *out, const char *mark_start,
                                  const char *close, char **words, const char *book_path,
                                  int line)
{
    const char *value_start = close + 3;
    const char *value_end = strstr(value_start, "<!-- /n -->");
    if (!book->check_numbers && value_end) {
        g_string_append_len(out, mark_start, value_end - mark_start);
        return value_end;
    }
    double value;
    char *want = NULL;
    if (value_end && words[1] && words[2] && lookup_number(book, words[1], &value))
        want = format_number(value, words[2]);
    const char *p;
    if (!want) {
        fprintf(stderr, "%s:%d: number mark %s: no such field in %s/*/summary.json or "
                        "bad format\n", book_path, line, words[1] ? words[1] : "?",
                book->results);
        book->problems++;
        book->broken++;
        g_string_append_len(out, mark_start, close + 3 - mark_start);
        p = close + 3;
    } else {
        if (strlen(want) != (size_t)(value_end - value_start) ||
            strncmp(want, value_start, value_end - value_start)) {
            fprintf(stderr, "%s:%d: %s is %s in the results, the book says %.*s\n", book_path,
                    line, words[1], want, (int)(value_end - value_start), value_start);
            book->problems++;
        }
        g_string_append_len(out, mark_start, value_start - mark_start);
        g_string_append(out, want);
        p = value_end;
    }
    g_free(want);
    return p;
}

// An output mark: the command's output in a ```text block.
static const char *process_output(Book *book, GString *out, const char *mark_start,
                                  const char *close, const char *mark, const char *book_path,
                                  int line)
{
    const char *body = NULL, *end = NULL;
    bool has_block = fenced_block(close + 3, "text", &body, &end);
    const char *space = strchr(mark, ' ');
    char *word = space ? g_strndup(mark, space - mark) : g_strdup(mark);
    int first, last;
    bool well_formed = has_block && space && parse_output_word(word, &first, &last);
    g_free(word);
    if (well_formed && !book->check_outputs) {
        g_string_append_len(out, mark_start, end - mark_start);
        return end;
    }
    char *why = NULL;
    char *want = well_formed ? command_output(book, space + 1, first, last, &why) : NULL;
    const char *p;
    if (!want) {
        fprintf(stderr, "%s:%d: bad output mark (%s)\n", book_path, line,
                why ? why : "need output[:FIRST-LAST] COMMAND and a ```text block");
        book->problems++;
        book->broken++;
        g_string_append_len(out, mark_start, close + 3 - mark_start);
        p = close + 3;
    } else {
        if (strlen(want) != (size_t)(end - body) || strncmp(want, body, end - body)) {
            fprintf(stderr, "%s:%d: the output of `%s` differs from the book\n", book_path, line,
                    space + 1);
            book->problems++;
        }
        g_string_append_len(out, mark_start, body - mark_start);
        g_string_append(out, want);
        p = end;
    }
    g_free(why);
    g_free(want);
    return p;
}

// Walks the book; returns the synced text. Every mismatch counts as a problem.
static char *process(Book *book, const char *text, const char *book_path)
{
    GString *out = g_string_new(NULL);
    const char *p = text;
    int line = 1;
    for (const char *next; (next = next_mark(p));) {
        for (const char *c = p; c < next; c++)
            line += *c == '\n';
        g_string_append_len(out, p, next - p);
        const char *close = strstr(next, "-->");
        if (!close) {
            fprintf(stderr, "%s:%d: unterminated mark\n", book_path, line);
            book->problems++;
        book->broken++;
            p = next;
            break;
        }
        char *mark = g_strndup(next + 5, close - next - 5); // "quote FILE NAME " / "n PATH FMT "
        g_strstrip(mark);
        char **words = g_strsplit_set(mark, " ", -1);
        const char *after;
        if (strcmp(words[0], "quote") == 0)
            after = process_quote(book, out, next, close, words, book_path, line);
        else if (strcmp(words[0], "n") == 0)
            after = process_number(book, out, next, close, words, book_path, line);
        else
            after = process_output(book, out, next, close, mark, book_path, line);
        for (const char *c = next; c < after; c++)
            line += *c == '\n';
        p = after;
        g_strfreev(words);
        g_free(mark);
    }
    g_string_append(out, p);
    return g_string_free(out, FALSE);
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "C"); // the book's numbers have a decimal point
    Book book = {.results = "out", .check_quotes = true, .check_numbers = true,
                 .check_outputs = true};
    bool usage_error = false;
    const char *mode = argc > 1 ? argv[1] : "";
    const char *book_path = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--results") == 0 && i + 1 < argc)
            book.results = argv[++i];
        else if (strcmp(argv[i], "--build") == 0 && i + 1 < argc)
            book.build = argv[++i];
        else if (strcmp(argv[i], "--quotes-only") == 0)
            book.check_numbers = book.check_outputs = false;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            char **kinds = g_strsplit(argv[++i], ",", -1);
            book.check_quotes = book.check_numbers = book.check_outputs = false;
            for (int k = 0; kinds[k]; k++) {
                if (strcmp(kinds[k], "quotes") == 0)
                    book.check_quotes = true;
                else if (strcmp(kinds[k], "numbers") == 0)
                    book.check_numbers = true;
                else if (strcmp(kinds[k], "outputs") == 0)
                    book.check_outputs = true;
                else
                    usage_error = true;
            }
            g_strfreev(kinds);
        }
        else if (!book_path)
            book_path = argv[i];
        else
            book_path = NULL, i = argc;
    }
    if ((strcmp(mode, "check") != 0 && strcmp(mode, "sync") != 0) || !book_path || usage_error) {
        fprintf(stderr, "usage: booktool check|sync [--results DIR] [--build DIR] "
                        "[--only quotes,numbers,outputs] [--quotes-only] BOOK.md\n");
        return 2;
    }
    char *text = NULL;
    if (!g_file_get_contents(book_path, &text, NULL, NULL)) {
        fprintf(stderr, "booktool: %s: cannot read\n", book_path);
        return 2;
    }
    char *root = g_path_get_dirname(book_path);
    book.root = root;
    char *default_build = g_build_filename(root, "build", NULL);
    if (!book.build)
        book.build = default_build;
    char *synced = process(&book, text, book_path);
    int status = 0;
    if (strcmp(mode, "sync") == 0) {
        if (strcmp(synced, text) != 0 && !g_file_set_contents(book_path, synced, -1, NULL)) {
            fprintf(stderr, "booktool: %s: cannot write\n", book_path);
            status = 2;
        } else if (book.broken > 0) {
            fprintf(stderr, "booktool: %d broken mark(s) left as they were\n", book.broken);
            status = 1;
        }
    } else if (book.problems > 0) {
        fprintf(stderr, "booktool: %d mark(s) out of date; run: build/tools/booktool sync "
                        "--results %s %s\n", book.problems, book.results, book_path);
        status = 1;
    }
    g_free(default_build);
    g_free(root);
    g_free(synced);
    g_free(text);
    return status;
}
