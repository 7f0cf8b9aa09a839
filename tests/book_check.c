// book_check.c: BOOK.md is kept honest by tools/booktool (quoted code synced
// from the sources), and the student copy of the tree is clean. Three checks:
//   - booktool itself notices a stale quote, number and output, and sync mends them;
//   - every quote in BOOK.md is the function as it stands in the source, and
//     every chapter 2-9 quotes some code and names its test suite;
//   - tools/export-workbook leaves no solution text in the student copy (its
//     sources and its BOOK.md), keeps every TODO(exercise chNN) (at least one
//     per chapter 1-9), and the copy's BOOK.md still checks clean.
// The book's numbers and program outputs are checked by book_numbers.c.
#include <string.h>

#include <glib/gstdio.h>

#include "testutil.h"

// The macro of solution blocks, spelt in two pieces so that this file does not
// itself look like one to tools/export-workbook.
#define SOLUTION_MARK "LOOPLENS_" "SOLUTION"

// Runs tools/booktool with args (NULL-terminated, after the program name);
// returns its status, stderr in *err.
static int run_booktool(char **err, const char *const *args)
{
    char *booktool = test_build_path("tools/booktool");
    GPtrArray *argv = g_ptr_array_new();
    g_ptr_array_add(argv, booktool);
    for (int i = 0; args[i]; i++)
        g_ptr_array_add(argv, (gpointer)args[i]);
    g_ptr_array_add(argv, NULL);
    int status = test_run_program(NULL, err, NULL, (const char *const *)argv->pdata);
    g_ptr_array_free(argv, TRUE);
    g_free(booktool);
    return status;
}

// (Not inlined: gcc 12 then mistakes the returned text for a dangling local.)
G_GNUC_NO_INLINE static char *read_file(const char *path)
{
    char *text = NULL;
    GError *error = NULL;
    g_file_get_contents(path, &text, NULL, &error);
    g_assert_no_error(error);
    return text;
}

static void write_file(const char *path, const char *text)
{
    GError *error = NULL;
    g_file_set_contents(path, text, -1, &error);
    g_assert_no_error(error);
}

// ----------------------------------------------------------------------------
// booktool on a small made-up tree: a stale quote, number and output are each
// reported (exit 1), sync rewrites them, and then check passes (exit 0).

static void test_booktool_detects_and_syncs(void)
{
    char *root = test_path("booktree");
    char *lib = g_build_filename(root, "lib", NULL);
    char *results = g_build_filename(root, "out", "m", NULL);
    g_assert_cmpint(g_mkdir_with_parents(lib, 0755), ==, 0);
    g_assert_cmpint(g_mkdir_with_parents(results, 0755), ==, 0);
    char *source = g_build_filename(lib, "twice.c", NULL);
    write_file(source, "// twice.c\nint twice(int x);\n\nint twice(int x)\n{\n    return 2 * x;\n}\n");
    char *summary = g_build_filename(results, "summary.json", NULL);
    write_file(summary, "{\"bad\": {\"count\": 57, \"mean_p_correct\": 0.0461}, \"all\": 228}");
    char *book = g_build_filename(root, "BOOK.md", NULL);
    const char *stale = "# A book\n\n<!-- quote lib/twice.c twice -->\n```c\nint twice(int x)\n{\n"
                        "    return x + x;\n}\n```\n\n"
                        "<!-- n m.bad.count %d -->56<!-- /n --> bad, mean "
                        "<!-- n m.bad.mean_p_correct %.1p -->4.6%<!-- /n -->, share "
                        "<!-- n m.bad.count/m.all %.2f -->0.20<!-- /n -->.\n\n"
                        "<!-- output:2- /bin/echo -e one\\\\ntwo -->\n```text\none\n```\n";
    write_file(book, stale);

    char *out_dir = g_build_filename(root, "out", NULL);
    char *err = NULL;
    const char *check[] = {"check", "--results", out_dir, book, NULL};
    g_assert_cmpint(run_booktool(&err, check), ==, 1);
    g_test_message("booktool on a stale book:\n%s", err);
    g_assert_nonnull(strstr(err, "the quote of twice in lib/twice.c differs from the source"));
    g_assert_nonnull(strstr(err, "m.bad.count is 57 in the results, the book says 56"));
    g_assert_nonnull(strstr(err, "m.bad.count/m.all is 0.25 in the results, the book says 0.20"));
    g_assert_nonnull(strstr(err, "differs from the book"));
    g_assert_null(strstr(err, "mean_p_correct")); // 4.6% is right
    g_free(err);

    // --quotes-only sees only the quote.
    const char *quotes[] = {"check", "--quotes-only", book, NULL};
    g_assert_cmpint(run_booktool(&err, quotes), ==, 1);
    g_assert_nonnull(strstr(err, "the quote of twice"));
    g_assert_null(strstr(err, "m.bad.count"));
    g_free(err);

    const char *sync[] = {"sync", "--results", out_dir, book, NULL};
    g_assert_cmpint(run_booktool(NULL, sync), ==, 0);
    char *synced = read_file(book);
    g_assert_nonnull(strstr(synced, "    return 2 * x;\n}\n```"));
    g_assert_nonnull(strstr(synced, "-->57<!-- /n --> bad"));
    g_assert_nonnull(strstr(synced, "-->0.25<!-- /n -->"));
    g_assert_nonnull(strstr(synced, "```text\ntwo\n```"));
    g_assert_cmpint(run_booktool(&err, check), ==, 0);
    g_assert_cmpstr(err, ==, "");
    g_free(err);

    // A placeholder for an exercise is accepted only where the function has no
    // solution block (the student copy), never in the full tree.
    char *placeholder = g_strdup(synced);
    char *body = strstr(placeholder, "int twice(int x)\n{");
    g_assert_nonnull(body);
    char *rest = strstr(body, "```");
    char *edited = g_strdup_printf("%.*s// Exercise: you write this in lib/twice.c.\n%s",
                                   (int)(body - placeholder), placeholder, rest);
    write_file(book, edited);
    g_assert_cmpint(run_booktool(NULL, quotes), ==, 0);
    write_file(source, "int twice(int x)\n{\n#ifdef " SOLUTION_MARK "\n    return 2 * x;\n#else\n"
                       "    return 0;\n#endif\n}\n");
    g_assert_cmpint(run_booktool(NULL, quotes), ==, 1);

    g_free(edited);
    g_free(placeholder);
    g_free(synced);
    g_free(out_dir);
    g_free(book);
    g_free(summary);
    g_free(source);
    g_free(results);
    g_free(lib);
    g_free(root);
}

// ----------------------------------------------------------------------------
// BOOK.md itself.

static void test_book_quotes_match_sources(void)
{
    char *book = test_source_path("BOOK.md");
    char *err = NULL;
    const char *args[] = {"check", "--quotes-only", book, NULL};
    int status = run_booktool(&err, args);
    if (status != 0) {
        g_test_message("booktool says:\n%s", err);
        g_test_fail_printf("BOOK.md quotes code that is not what the sources say (booktool's "
                           "lines above); fix it with build/tools/booktool sync --quotes-only "
                           "BOOK.md");
    }
    g_free(err);
    g_free(book);
}

// The text of chapter n's section: from "## Chapter n:" to the next "## ".
static char *chapter_section(const char *book, int n)
{
    char *heading = g_strdup_printf("\n## Chapter %d:", n);
    const char *start = strstr(book, heading);
    g_free(heading);
    if (!start)
        return NULL;
    const char *end = strstr(start + 1, "\n## ");
    return end ? g_strndup(start, end - start) : g_strdup(start);
}

static void test_book_chapters(void)
{
    char *path = test_source_path("BOOK.md");
    char *book = read_file(path);
    for (int n = 1; n <= 9; n++) {
        char *section = chapter_section(book, n);
        if (!section) {
            g_test_fail_printf("BOOK.md has no section \"## Chapter %d: ...\"", n);
            continue;
        }
        char *suite = g_strdup_printf("--suite ch%02d", n);
        if (!strstr(section, suite))
            g_test_fail_printf("BOOK.md's chapter %d does not say how to run its tests (%s)", n,
                               suite);
        if (n >= 2 && !strstr(section, "<!-- quote "))
            g_test_fail_printf("BOOK.md's chapter %d quotes no code (a <!-- quote FILE FUNCTION "
                               "--> mark)", n);
        g_free(suite);
        g_free(section);
    }
    g_free(book);
    g_free(path);
}

// ----------------------------------------------------------------------------
// The student copy.

// Splits C source text into the lines a student copy keeps and the lines of
// the solution halves (#ifdef SOLUTION_MARK ... #else), both stripped of
// surrounding blanks. Returns how many solution blocks there were.
static int split_solutions(const char *text, GHashTable *kept, GPtrArray *solution)
{
    enum { MAX_DEPTH = 64 };
    bool is_solution[MAX_DEPTH], in_else[MAX_DEPTH];
    int depth = 0, blocks = 0;
    char **lines = g_strsplit(text, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        char *line = g_strstrip(g_strdup(lines[i]));
        bool directive = line[0] == '#';
        const char *word = directive ? line + 1 + strspn(line + 1, " \t") : "";
        bool drop = false;
        if (directive && g_str_has_prefix(word, "if")) {
            g_assert_cmpint(depth, <, MAX_DEPTH);
            bool solution = g_str_has_prefix(word, "ifdef") &&
                            g_str_has_suffix(word, " " SOLUTION_MARK);
            is_solution[depth] = solution;
            in_else[depth++] = false;
            blocks += solution;
            drop = solution;
        } else if (directive && g_str_has_prefix(word, "else") && depth > 0 &&
                   is_solution[depth - 1]) {
            in_else[depth - 1] = true;
            drop = true;
        } else if (directive && g_str_has_prefix(word, "endif") && depth > 0) {
            drop = is_solution[--depth];
        }
        if (!drop) {
            bool inside_solution = false;
            for (int d = 0; d < depth; d++)
                inside_solution = inside_solution || (is_solution[d] && !in_else[d]);
            if (inside_solution)
                g_ptr_array_add(solution, g_strdup(line));
            else
                g_hash_table_add(kept, g_strdup(line));
        }
        g_free(line);
    }
    g_strfreev(lines);
    return blocks;
}

// The stripped lines of a text, as a set.
static GHashTable *line_set(const char *text)
{
    GHashTable *set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    char **lines = g_strsplit(text, "\n", -1);
    for (int i = 0; lines[i]; i++)
        g_hash_table_add(set, g_strdup(g_strstrip(lines[i])));
    g_strfreev(lines);
    return set;
}

typedef struct {
    const char *source_root, *copy_root;
    int files, blocks;
    GHashTable *copy_code;    // every stripped line of the copy's .c and .h files
    GPtrArray *solution;      // (file, line) pairs: "FILE\tLINE" of solution text
    GHashTable *chapters;     // "ch04" -> present, from the copy's TODO(exercise chNN)
} ExportWalk;

// Checks one exported C file against its source.
static void check_exported_file(ExportWalk *w, const char *relative)
{
    char *source_path = g_build_filename(w->source_root, relative, NULL);
    char *copy_path = g_build_filename(w->copy_root, relative, NULL);
    char *source = read_file(source_path);
    char *copy = read_file(copy_path);
    GHashTable *kept = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GPtrArray *solution = g_ptr_array_new_with_free_func(g_free);
    w->blocks += split_solutions(source, kept, solution);
    w->files++;
    GHashTable *copy_lines = line_set(copy);

    // Solution text: lines of a solution half that the rest of the file does not
    // also have (a `for (int b = 0; b < B; b++) {` may be both). Short lines
    // ("}", "return;") say nothing.
    for (guint i = 0; i < solution->len; i++) {
        const char *line = solution->pdata[i];
        if (strlen(line) < 12 || g_hash_table_contains(kept, line))
            continue;
        if (g_hash_table_contains(copy_lines, line))
            g_test_fail_printf("the student copy of %s still has the solution line \"%s\"",
                               relative, line);
        g_ptr_array_add(w->solution, g_strdup_printf("%s\t%s", relative, line));
    }
    if (strstr(copy, SOLUTION_MARK))
        g_test_fail_printf("the student copy of %s still mentions " SOLUTION_MARK, relative);

    // Every exercise stub survives, word for word.
    char **lines = g_strsplit(source, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        const char *todo = strstr(lines[i], "TODO(exercise ");
        if (!todo)
            continue;
        char *line = g_strstrip(g_strdup(lines[i]));
        if (!g_hash_table_contains(copy_lines, line))
            g_test_fail_printf("the student copy of %s lost the exercise line \"%s\"", relative,
                               line);
        else
            g_hash_table_add(w->chapters, g_strndup(todo + strlen("TODO(exercise "), 4));
        g_free(line);
    }
    g_strfreev(lines);

    GHashTableIter iter;
    gpointer key;
    g_hash_table_iter_init(&iter, copy_lines);
    while (g_hash_table_iter_next(&iter, &key, NULL))
        g_hash_table_add(w->copy_code, g_strdup(key));
    g_hash_table_destroy(copy_lines);
    g_ptr_array_free(solution, TRUE);
    g_hash_table_destroy(kept);
    g_free(copy);
    g_free(source);
    g_free(copy_path);
    g_free(source_path);
}

static void walk(ExportWalk *w, const char *relative)
{
    char *dir_path = g_build_filename(w->copy_root, relative, NULL);
    GDir *dir = g_dir_open(dir_path, 0, NULL);
    g_assert_nonnull(dir);
    const char *name;
    while ((name = g_dir_read_name(dir))) {
        char *child = *relative ? g_build_filename(relative, name, NULL) : g_strdup(name);
        char *path = g_build_filename(w->copy_root, child, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_DIR))
            walk(w, child);
        else if (g_str_has_suffix(name, ".c") || g_str_has_suffix(name, ".h"))
            check_exported_file(w, child);
        g_free(path);
        g_free(child);
    }
    g_dir_close(dir);
    g_free(dir_path);
}

static void test_export_workbook(void)
{
    char *source_root = test_source_path("");
    char *git = g_build_filename(source_root, ".git", NULL);
    char *python = g_find_program_in_path("python3");
    if (!g_file_test(git, G_FILE_TEST_EXISTS) || !python) {
        // tools/export-workbook copies the files git tracks: a student copy or
        // a tarball has nothing to export from.
        g_test_skip("not a git checkout with python3: nothing to export");
        g_free(python);
        g_free(git);
        g_free(source_root);
        return;
    }
    char *copy_root = test_path("student");
    char *export = test_source_path("tools/export-workbook");
    const char *argv[] = {python, export, copy_root, NULL};
    char *err = NULL;
    int status = test_run_program(NULL, &err, NULL, argv);
    if (status != 0) {
        g_test_message("tools/export-workbook says:\n%s", err);
        g_test_fail_printf("tools/export-workbook failed (status %d)", status);
    }
    g_free(err);

    ExportWalk w = {
        .source_root = source_root,
        .copy_root = copy_root,
        .copy_code = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
        .solution = g_ptr_array_new_with_free_func(g_free),
        .chapters = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
    };
    if (status == 0)
        walk(&w, "");
    g_test_message("%d C files exported, %d solution blocks, %u solution lines", w.files,
                   w.blocks, w.solution->len);
    g_assert_cmpint(w.blocks, >=, 9); // at least one exercise per chapter 1-9
    for (int n = 1; n <= 9; n++) {
        char chapter[8];
        g_snprintf(chapter, sizeof chapter, "ch%02d", n);
        if (!g_hash_table_contains(w.chapters, chapter))
            g_test_fail_printf("no exercise for chapter %d: no TODO(exercise %s) in the "
                               "student copy", n, chapter);
    }

    // The book: solution text (lines no exported source has) must be gone from
    // the copy's BOOK.md, though the full BOOK.md quotes some of it.
    char *book_path = g_build_filename(copy_root, "BOOK.md", NULL);
    char *full_path = test_source_path("BOOK.md");
    char *book = read_file(book_path), *full = read_file(full_path);
    GHashTable *book_lines = line_set(book), *full_lines = line_set(full);
    int in_full_book = 0;
    for (guint i = 0; i < w.solution->len; i++) {
        const char *entry = w.solution->pdata[i];
        const char *line = strchr(entry, '\t') + 1;
        if (g_hash_table_contains(w.copy_code, line))
            continue;
        in_full_book += g_hash_table_contains(full_lines, line);
        if (g_hash_table_contains(book_lines, line))
            g_test_fail_printf("the student copy's BOOK.md still has the solution line \"%s\" "
                               "(from %.*s)", line, (int)(strchr(entry, '\t') - entry), entry);
    }
    g_test_message("solution lines quoted in the full BOOK.md: %d", in_full_book);
    g_assert_cmpint(in_full_book, >, 0); // else this check could not fail

    // And the copy's book checks clean against the copy's sources.
    const char *check[] = {"check", "--quotes-only", book_path, NULL};
    status = run_booktool(&err, check);
    if (status != 0) {
        g_test_message("booktool says:\n%s", err);
        g_test_fail_printf("the student copy's BOOK.md does not check clean (booktool's lines "
                           "above)");
    }
    g_free(err);

    g_hash_table_destroy(book_lines);
    g_hash_table_destroy(full_lines);
    g_free(book);
    g_free(full);
    g_free(full_path);
    g_free(book_path);
    g_hash_table_destroy(w.copy_code);
    g_ptr_array_free(w.solution, TRUE);
    g_hash_table_destroy(w.chapters);
    g_free(export);
    g_free(copy_root);
    g_free(python);
    g_free(git);
    g_free(source_root);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/book/booktool/detects-and-syncs", test_booktool_detects_and_syncs);
    g_test_add_func("/book/quotes-match-sources", test_book_quotes_match_sources);
    g_test_add_func("/book/chapters", test_book_chapters);
    g_test_add_func("/book/export-workbook", test_export_workbook);
    return g_test_run();
}
