// booktool.c: keeps BOOK.md honest.
//
//   booktool check [--results DIR] BOOK.md    exit 1 if anything is out of date
//   booktool sync  [--results DIR] BOOK.md    rewrite it from the code and results
//
// Two kinds of marks in the book are kept in sync, never by hand:
//
//   <!-- quote lib/attention_loops.c attention_forward_loops -->
//   ```c
//   ...the function, exactly as it stands in the source...
//   ```
//
//   <!-- n fixed.bad.count %d -->57<!-- /n -->
//
// A quote holds the whole definition of a function (from its first line to the
// closing "}" in column 0). A number is a field of DIR/<model>/summary.json (DIR
// defaults to out/, written by `looplens experiment`), printed with the given
// format: %d, %.Nf, or %.Np for a percentage (0.123 -> 12.3%).
#include <locale.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <json-glib/json-glib.h>

typedef struct {
    const char *root;    // the source tree, where quoted files are found
    const char *results; // where DIR/<model>/summary.json are
    int problems;        // how many marks are out of date or broken
} Book;

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
static bool lookup_number(const Book *book, const char *dotted, double *out)
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

// Walks the book; returns the synced text. Every mismatch counts as a problem.
static char *process(Book *book, const char *text, const char *book_path)
{
    GString *out = g_string_new(NULL);
    const char *p = text;
    int line = 1;
    for (;;) {
        const char *quote = strstr(p, "<!-- quote ");
        const char *number = strstr(p, "<!-- n ");
        const char *next = quote && (!number || quote < number) ? quote : number;
        if (!next)
            break;
        for (const char *c = p; c < next; c++)
            line += *c == '\n';
        g_string_append_len(out, p, next - p);
        const char *close = strstr(next, "-->");
        if (!close) {
            fprintf(stderr, "%s:%d: unterminated mark\n", book_path, line);
            book->problems++;
            p = next;
            break;
        }
        char *mark = g_strndup(next + 5, close - next - 5); // "quote FILE NAME " / "n PATH FMT "
        char **words = g_strsplit_set(g_strstrip(mark), " ", -1);
        if (next == quote) {
            const char *fence = close + 3;
            const char *body = g_str_has_prefix(fence, "\n```c\n") ? fence + 6 : NULL;
            const char *end = body ? strstr(body, "```") : NULL;
            char *file = words[1] && words[2] ? g_build_filename(book->root, words[1], NULL) : NULL;
            char *source = file ? function_source(file, words[2]) : NULL;
            if (!body || !end || !source) {
                fprintf(stderr, "%s:%d: bad quote mark (need a ```c block and %s %s to exist)\n",
                        book_path, line, words[1] ? words[1] : "?", words[2] ? words[2] : "?");
                book->problems++;
                g_string_append_len(out, next, close + 3 - next);
                p = close + 3;
            } else {
                if (strlen(source) != (size_t)(end - body) || strncmp(source, body, end - body)) {
                    fprintf(stderr, "%s:%d: the quote of %s in %s differs from the source\n",
                            book_path, line, words[2], words[1]);
                    book->problems++;
                }
                g_string_append_len(out, next, body - next);
                g_string_append(out, source);
                p = end;
            }
            g_free(source);
            g_free(file);
        } else {
            const char *value_start = close + 3;
            const char *value_end = strstr(value_start, "<!-- /n -->");
            double value;
            char *want = NULL;
            if (value_end && words[1] && words[2] && lookup_number(book, words[1], &value))
                want = format_number(value, words[2]);
            if (!want) {
                fprintf(stderr, "%s:%d: number mark %s: no such field in %s/*/summary.json or "
                                "bad format\n", book_path, line, words[1] ? words[1] : "?",
                        book->results);
                book->problems++;
                g_string_append_len(out, next, close + 3 - next);
                p = close + 3;
            } else {
                if (strlen(want) != (size_t)(value_end - value_start) ||
                    strncmp(want, value_start, value_end - value_start)) {
                    fprintf(stderr, "%s:%d: %s is %s in the results, the book says %.*s\n",
                            book_path, line, words[1], want, (int)(value_end - value_start),
                            value_start);
                    book->problems++;
                }
                g_string_append_len(out, next, value_start - next);
                g_string_append(out, want);
                p = value_end;
            }
            g_free(want);
        }
        g_strfreev(words);
        g_free(mark);
    }
    g_string_append(out, p);
    return g_string_free(out, FALSE);
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "C"); // the book's numbers have a decimal point
    Book book = {.root = NULL, .results = "out", .problems = 0};
    const char *mode = argc > 1 ? argv[1] : "";
    const char *book_path = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--results") == 0 && i + 1 < argc)
            book.results = argv[++i];
        else if (!book_path)
            book_path = argv[i];
        else
            book_path = NULL, i = argc;
    }
    if ((strcmp(mode, "check") != 0 && strcmp(mode, "sync") != 0) || !book_path) {
        fprintf(stderr, "usage: booktool check|sync [--results DIR] BOOK.md\n");
        return 2;
    }
    char *text = NULL;
    if (!g_file_get_contents(book_path, &text, NULL, NULL)) {
        fprintf(stderr, "booktool: %s: cannot read\n", book_path);
        return 2;
    }
    char *root = g_path_get_dirname(book_path);
    book.root = root;
    char *synced = process(&book, text, book_path);
    int status = 0;
    if (strcmp(mode, "sync") == 0) {
        if (strcmp(synced, text) != 0 && !g_file_set_contents(book_path, synced, -1, NULL)) {
            fprintf(stderr, "booktool: %s: cannot write\n", book_path);
            status = 2;
        }
    } else if (book.problems > 0) {
        fprintf(stderr, "booktool: %d mark(s) out of date; run: build/tools/booktool sync "
                        "--results %s %s\n", book.problems, book.results, book_path);
        status = 1;
    }
    g_free(root);
    g_free(synced);
    g_free(text);
    return status;
}
