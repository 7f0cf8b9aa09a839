// ch09_experiment.c: `looplens experiment` end to end on tiny models: the
// files it writes, every field of summary.json with its type, the report,
// determinism, the default models, and bad input.
#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "checkpoint.h"
#include "compare.h"
#include "testutil.h"

#define COUNT "2000" // test problems per model: enough for ~170 squaring ones

// A tiny model that answers 0 to everything, whatever it attends to: ln_f
// outputs its bias (all ones), so each logit is the sum of the token's
// embedding row, and the row of "0" gets +0.5 per channel. Its squaring
// problems split into good (the referenced value is 0) and bad (the rest),
// and its wrong answers fall into several kinds.
static char *zero_model(const char *name, DefinitionOrder order)
{
    GPT model;
    test_tiny_model(&model, 41, 0.02f);
    int C = model.config.d_model;
    for (int c = 0; c < C; c++) {
        model.params.ln_f_weight[c] = 0.0f;
        model.params.ln_f_bias[c] = 1.0f;
        model.params.wte[(size_t)token_of_int(0) * C + c] += 0.5f;
    }
    char *path = test_path(name);
    GError *error = NULL;
    g_assert_true(checkpoint_save(path, &model, order, NULL, &error));
    g_assert_no_error(error);
    gpt_free(&model);
    return path;
}

static char *random_model(const char *name, DefinitionOrder order)
{
    GPT model;
    test_tiny_model(&model, 42, 0.3f);
    char *path = test_path(name);
    g_assert_true(checkpoint_save(path, &model, order, NULL, NULL));
    gpt_free(&model);
    return path;
}

// ----------------------------------------------------------------------------
// Checking summary.json

typedef enum {
    J_STRING,
    J_INT,
    J_DOUBLE, // a number written with a point or an exponent
    J_DOUBLE_OR_NULL,
    J_OBJECT,
    J_ARRAY,
    J_OBJECT_OR_NULL,
} JsonKind;

// The node at a dotted path ("good.count"), or NULL.
static JsonNode *json_at(JsonNode *root, const char *path)
{
    char **parts = g_strsplit(path, ".", -1);
    JsonNode *node = root;
    for (int i = 0; parts[i] && node; i++) {
        if (!JSON_NODE_HOLDS_OBJECT(node)) {
            node = NULL;
            break;
        }
        JsonObject *object = json_node_get_object(node);
        node = json_object_has_member(object, parts[i]) ? json_object_get_member(object, parts[i])
                                                        : NULL;
    }
    g_strfreev(parts);
    return node;
}

static bool json_is(JsonNode *node, JsonKind kind)
{
    bool is_null = JSON_NODE_HOLDS_NULL(node);
    GType type = JSON_NODE_HOLDS_VALUE(node) ? json_node_get_value_type(node) : G_TYPE_INVALID;
    switch (kind) {
    case J_STRING: return type == G_TYPE_STRING;
    case J_INT: return type == G_TYPE_INT64;
    case J_DOUBLE: return type == G_TYPE_DOUBLE;
    case J_DOUBLE_OR_NULL: return is_null || type == G_TYPE_DOUBLE;
    case J_OBJECT: return JSON_NODE_HOLDS_OBJECT(node);
    case J_ARRAY: return JSON_NODE_HOLDS_ARRAY(node);
    case J_OBJECT_OR_NULL: return is_null || JSON_NODE_HOLDS_OBJECT(node);
    }
    return false;
}

static void check_field(JsonNode *root, const char *file, const char *path, JsonKind kind)
{
    static const char *const kind_names[] = {"a string", "an integer", "a number with a point",
                                             "a number or null", "an object", "an array",
                                             "an object or null"};
    JsonNode *node = json_at(root, path);
    if (!node)
        g_test_fail_printf("%s: no field %s", file, path);
    else if (!json_is(node, kind))
        g_test_fail_printf("%s: %s is not %s", file, path, kind_names[kind]);
}

static JsonNode *read_json(const char *path)
{
    JsonParser *parser = json_parser_new();
    GError *error = NULL;
    if (!json_parser_load_from_file(parser, path, &error))
        g_error("%s: %s", path, error->message);
    JsonNode *root = json_node_copy(json_parser_get_root(parser));
    g_object_unref(parser);
    return root;
}

static gint64 json_int_at(JsonNode *root, const char *path)
{
    return json_node_get_int(json_at(root, path));
}

static double json_double_at(JsonNode *root, const char *path)
{
    return json_node_get_double(json_at(root, path));
}

// Every field, with its type. `complete` when both subsets are non-empty
// (then no mean may be null).
static void check_summary(const char *path, int n_layer, bool complete)
{
    JsonNode *root = read_json(path);
    JsonKind mean = complete ? J_DOUBLE : J_DOUBLE_OR_NULL;
    const struct {
        const char *path;
        JsonKind kind;
    } fields[] = {
        // SPEC section 6
        {"model", J_STRING}, {"order", J_STRING}, {"test_count", J_INT},
        {"test_accuracy", J_DOUBLE}, {"squaring_count", J_INT},
        {"good.count", J_INT}, {"good.mean_p_correct", mean},
        {"bad.count", J_INT}, {"bad.mean_p_correct", mean},
        {"boosted.count", J_INT}, {"boosted.mean_p_correct", mean},
        {"boosted.accuracy", mean}, {"boost_amount", J_DOUBLE},
        // and more
        {"name", J_STRING}, {"config.n_layer", J_INT}, {"config.n_head", J_INT},
        {"config.d_model", J_INT}, {"config.d_ff", J_INT}, {"test_seed", J_INT},
        {"test_mean_p_correct", J_DOUBLE}, {"squaring_accuracy", J_DOUBLE},
        {"operators.+.count", J_INT}, {"operators.+.accuracy", J_DOUBLE},
        {"operators.-.count", J_INT}, {"operators.-.accuracy", J_DOUBLE},
        {"operators.*.count", J_INT}, {"operators.*.accuracy", J_DOUBLE},
        {"boosted.fixed", J_INT}, {"boost.amount", J_DOUBLE}, {"boost.query_row", J_INT},
        {"boost_on_good.count", J_INT}, {"boost_on_good.broken", J_INT},
        {"boost_on_good.accuracy_after", mean}, {"boost_on_good.mean_p_correct_before", mean},
        {"boost_on_good.mean_p_correct_after", mean},
        {"failures.count", J_INT}, {"failures.near_miss_distance", J_INT},
        {"failures.chance_right_by_accident", mean},
        {"most_different", complete ? J_OBJECT : J_OBJECT_OR_NULL},
        {"row18_role_profile.interval", J_STRING},
        {"row18_role_profile.head.layer", J_INT}, {"row18_role_profile.head.head", J_INT},
        {"row18_role_profile.layers", J_ARRAY}, {"figures", J_OBJECT},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(fields); i++)
        check_field(root, path, fields[i].path, fields[i].kind);
    for (int k = 0; k < FAILURE_KINDS; k++) {
        char *base = g_strdup_printf("failures.kinds.%s", failure_kind_name(k));
        char *count = g_strconcat(base, ".count", NULL);
        char *chance = g_strconcat(base, ".chance", NULL);
        char *fixed = g_strconcat(base, ".fixed_by_boost", NULL);
        check_field(root, path, count, J_INT);
        check_field(root, path, chance, mean);
        check_field(root, path, fixed, J_INT);
        g_free(base), g_free(count), g_free(chance), g_free(fixed);
    }
    static const char *const subsets[] = {"good", "bad", "boosted"};
    for (int s = 0; s < 3; s++) {
        for (int k = 0; k < ROLE_PARTS; k++) {
            char *m = g_strdup_printf("row18_role_profile.head.%s.%s.mean", subsets[s],
                                      role_part_name(k));
            char *ci = g_strdup_printf("row18_role_profile.head.%s.%s.ci95", subsets[s],
                                       role_part_name(k));
            check_field(root, path, m, mean);
            check_field(root, path, ci, J_ARRAY);
            JsonNode *interval = json_at(root, ci);
            if (interval && JSON_NODE_HOLDS_ARRAY(interval))
                g_assert_cmpuint(json_array_get_length(json_node_get_array(interval)), ==, 2);
            g_free(m);
            g_free(ci);
        }
    }
    JsonNode *layers = json_at(root, "row18_role_profile.layers");
    if (layers && JSON_NODE_HOLDS_ARRAY(layers)) {
        JsonArray *array = json_node_get_array(layers);
        g_assert_cmpuint(json_array_get_length(array), ==, (guint)n_layer);
        JsonNode *first = json_array_get_element(array, 0);
        check_field(first, path, "layer", J_INT);
        check_field(first, path, "bad.ref_val.mean", J_DOUBLE_OR_NULL);
        check_field(first, path, "good.n", J_INT);
    }

    // The numbers agree with each other.
    gint64 good = json_int_at(root, "good.count"), bad = json_int_at(root, "bad.count");
    g_assert_cmpint(good + bad, ==, json_int_at(root, "squaring_count"));
    g_assert_cmpint(json_int_at(root, "boosted.count"), ==, bad);
    g_assert_cmpint(json_int_at(root, "failures.count"), ==, bad);
    gint64 kinds = 0;
    for (int k = 0; k < FAILURE_KINDS; k++) {
        char *count = g_strdup_printf("failures.kinds.%s.count", failure_kind_name(k));
        kinds += json_int_at(root, count);
        g_free(count);
    }
    g_assert_cmpint(kinds, ==, bad);
    gint64 per_op = json_int_at(root, "operators.+.count") +
                    json_int_at(root, "operators.-.count") + json_int_at(root, "operators.*.count");
    g_assert_cmpint(per_op, ==, json_int_at(root, "test_count"));
    g_assert_cmpfloat(json_double_at(root, "boost_amount"), ==, 2.0);
    double accuracy = json_double_at(root, "test_accuracy");
    g_assert_cmpfloat(accuracy, >=, 0.0);
    g_assert_cmpfloat(accuracy, <=, 1.0);
    json_node_unref(root);
}

// ----------------------------------------------------------------------------

static void test_experiment_two_models(void)
{
    char *zero = zero_model("zero.safetensors", ORDER_FIXED);
    char *rnd = random_model("rnd.safetensors", ORDER_SHUFFLED);
    char *dir = test_path("run1");
    char *out = NULL, *err = NULL;
    int status = test_run_looplens(&out, &err, "experiment", "--model", zero, "--model", rnd,
                                   "--count", COUNT, "--out", dir, NULL);
    if (status != 0)
        g_test_fail_printf("looplens experiment failed (%d): %s", status, err);
    g_free(out);
    g_free(err);

    // summary.json: every field, both models.
    char *summary = g_build_filename(dir, "zero", "summary.json", NULL);
    check_summary(summary, 2, true);
    JsonNode *root = read_json(summary);
    g_assert_cmpstr(json_node_get_string(json_at(root, "order")), ==, "fixed");
    g_assert_cmpint(json_int_at(root, "test_count"), ==, 2000);
    g_assert_cmpint(json_int_at(root, "good.count"), >, 0);
    g_assert_cmpint(json_int_at(root, "bad.count"), >, 0);
    // Every answer is 0: the good ones are exactly the squares of 0.
    g_assert_cmpfloat(json_double_at(root, "squaring_accuracy"), <, 0.3);
    g_assert_cmpint(json_int_at(root, "failures.kinds.ref_x_other.count"), >, 0);
    json_node_unref(root);
    char *summary2 = g_build_filename(dir, "rnd", "summary.json", NULL);
    check_summary(summary2, 2, false);
    root = read_json(summary2);
    g_assert_cmpstr(json_node_get_string(json_at(root, "order")), ==, "shuffled");
    json_node_unref(root);

    // test.txt: the model's order, COUNT problems, all from the test split.
    char *test_txt = g_build_filename(dir, "rnd", "test.txt", NULL);
    ProblemSet set;
    GError *error = NULL;
    g_assert_true(problem_set_read(test_txt, &set, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(set.count, ==, 2000);
    size_t not_abcd = 0;
    for (size_t i = 0; i < set.count; i++) {
        g_assert_true(problem_is_test(&set.items[i]));
        not_abcd += set.items[i].tokens[1] != TOK_VAR_A;
    }
    g_assert_cmpuint(not_abcd, >, 1000); // shuffled: a comes first in 1 of 4
    problem_set_free(&set);

    // The figures and the report.
    static const char *const figures[] = {"most_different.png", "most_different.svg",
                                          "most_different_positions.png",
                                          "most_different_difference.png", "profile_row18.png",
                                          "role_parts.png", "layer0_mean.png", "layer1_mean.png"};
    for (size_t i = 0; i < G_N_ELEMENTS(figures); i++) {
        char *figure = g_build_filename(dir, "zero", figures[i], NULL);
        char *bytes = NULL;
        gsize length = 0;
        if (!g_file_get_contents(figure, &bytes, &length, NULL) || length < 100)
            g_test_fail_printf("%s is missing or empty", figure);
        else if (g_str_has_suffix(figure, ".png"))
            g_assert_cmpmem(bytes, 8, "\x89PNG\r\n\x1a\n", 8);
        g_free(bytes);
        g_free(figure);
    }
    char *report = g_build_filename(dir, "report.md", NULL), *text = NULL;
    g_assert_true(g_file_get_contents(report, &text, NULL, NULL));
    g_assert_nonnull(strstr(text, "| good |"));
    g_assert_nonnull(strstr(text, "| boosted (bad + boost) |"));
    g_assert_nonnull(strstr(text, "zero: n"));
    g_assert_nonnull(strstr(text, "rnd: n"));
    g_assert_nonnull(strstr(text, "`ref_x_other`"));
    g_assert_nonnull(strstr(text, "](zero/most_different.png)"));
    g_free(text);

    // Determinism: a second run, on one thread, writes the same bytes.
    char *dir2 = test_path("run2");
    g_setenv("OMP_NUM_THREADS", "1", TRUE);
    g_assert_cmpint(test_run_looplens(NULL, NULL, "experiment", "--model", zero, "--count", COUNT,
                                      "--out", dir2, NULL),
                    ==, 0);
    g_unsetenv("OMP_NUM_THREADS");
    static const char *const same[] = {"summary.json", "test.txt", "most_different.png",
                                       "most_different.svg", "profile_row18.png"};
    for (size_t i = 0; i < G_N_ELEMENTS(same); i++) {
        char *a = g_build_filename(dir, "zero", same[i], NULL);
        char *b = g_build_filename(dir2, "zero", same[i], NULL);
        char *ta, *tb;
        gsize la, lb;
        g_assert_true(g_file_get_contents(a, &ta, &la, NULL));
        g_assert_true(g_file_get_contents(b, &tb, &lb, NULL));
        if (la != lb || memcmp(ta, tb, la) != 0)
            g_test_fail_printf("%s differs between two runs", same[i]);
        g_free(ta), g_free(tb), g_free(a), g_free(b);
    }

    g_free(dir2);
    g_free(report);
    g_free(test_txt);
    g_free(summary);
    g_free(summary2);
    g_free(dir);
    g_free(zero);
    g_free(rnd);
}

// With no --model: the shipped fixed and shuffled models, from $LOOPLENS_ASSETS.
static void test_experiment_default_models(void)
{
    char *assets = test_path("assets");
    g_assert_cmpint(g_mkdir_with_parents(assets, 0755), ==, 0);
    char *fixed = zero_model("assets/fixed.safetensors", ORDER_FIXED);
    char *shuffled = random_model("assets/shuffled.safetensors", ORDER_SHUFFLED);
    char *dir = test_path("defaults");
    g_setenv("LOOPLENS_ASSETS", assets, TRUE);
    char *err = NULL;
    int status = test_run_looplens(NULL, &err, "experiment", "--count", "300", "--no-figures",
                                   "--out", dir, NULL);
    if (status != 0)
        g_test_fail_printf("looplens experiment with the default models failed: %s", err);
    g_free(err);
    for (int i = 0; i < 2; i++) {
        char *summary = g_build_filename(dir, i ? "shuffled" : "fixed", "summary.json", NULL);
        JsonNode *root = read_json(summary);
        g_assert_cmpstr(json_node_get_string(json_at(root, "order")), ==,
                        i ? "shuffled" : "fixed");
        json_node_unref(root);
        g_free(summary);
    }
    // No figures asked for: none written.
    char *png = g_build_filename(dir, "fixed", "most_different.png", NULL);
    g_assert_false(g_file_test(png, G_FILE_TEST_EXISTS));
    g_free(png);

    // Assets without the models: one line naming the missing file.
    char *empty = test_path("no-assets");
    g_assert_cmpint(g_mkdir_with_parents(empty, 0755), ==, 0);
    g_setenv("LOOPLENS_ASSETS", empty, TRUE);
    err = NULL;
    status = test_run_looplens(NULL, &err, "experiment", "--out", dir, NULL);
    g_assert_cmpint(status, !=, 0);
    g_assert_cmpint(test_count_lines(err), ==, 1);
    g_assert_nonnull(strstr(err, "fixed.safetensors"));
    g_free(err);
    g_unsetenv("LOOPLENS_ASSETS");
    g_free(empty);
    g_free(dir);
    g_free(fixed);
    g_free(shuffled);
    g_free(assets);
}

typedef struct {
    const char *args[12];
    const char *reason;
} BadCall;

static void test_experiment_bad_input(void)
{
    char *model = random_model("ok.safetensors", ORDER_FIXED);
    char *corrupt = test_write_file("broken.safetensors", "\x10\0\0\0\0\0\0\0{\"a\":");
    char *a_file = test_write_file("a-file", "not a folder\n");
    char *blocked = g_build_filename(a_file, "out", NULL);
    char *copy_dir = test_path("copy");
    g_assert_cmpint(g_mkdir_with_parents(copy_dir, 0755), ==, 0);
    char *same_name = g_build_filename(copy_dir, "ok.safetensors", NULL);
    g_assert_true(g_file_set_contents(same_name, "x", 1, NULL));
    char *dir = test_path("never");
    // A folder where the run's summary.json goes: found before the run starts.
    char *in_the_way = test_path("in-the-way");
    char *blocker = g_build_filename(in_the_way, "ok", "summary.json", NULL);
    g_assert_cmpint(g_mkdir_with_parents(blocker, 0755), ==, 0);
    // clang-format off
    const BadCall calls[] = {
        {{"experiment", "--model", "/nonexistent/m.safetensors", "--out", dir}, "/nonexistent/m.safetensors"},
        {{"experiment", "--model", model, "--model", "/nonexistent/m.safetensors", "--out", dir}, "/nonexistent/m.safetensors"},
        {{"experiment", "--model", corrupt, "--out", dir}, "broken.safetensors"},
        {{"experiment", "--model", model, "--out", blocked}, "a-file"},
        {{"experiment", "--model", model, "--model", same_name, "--out", dir}, "different file names"},
        {{"experiment", "--model", model, "--count", "0", "--out", dir}, "--count"},
        {{"experiment", "--model", model, "--boost", "big", "--out", dir}, "--boost"},
        {{"experiment", "--model", model, "--out", dir, "extra"}, "extra"},
        {{"experiment", "--model", model, "--out", ""}, "empty"},
        {{"experiment", "--model", model, "--count", "30", "--out", in_the_way}, "in the way"},
    };
    // clang-format on
    for (size_t k = 0; k < G_N_ELEMENTS(calls); k++) {
        char *err = NULL;
        int status = test_run_looplens_argv(NULL, &err, calls[k].args);
        if (status == 0 || test_count_lines(err) != 1 || !strstr(err, calls[k].reason))
            g_test_fail_printf("call %zu: status %d, stderr '%s' (want one line with '%s')", k,
                               status, err, calls[k].reason);
        g_free(err);
        // Nothing written: a bad model stops the run before any file.
        char *summary = g_build_filename(dir, "ok", "summary.json", NULL);
        char *report = g_build_filename(dir, "report.md", NULL);
        g_assert_false(g_file_test(summary, G_FILE_TEST_EXISTS));
        g_assert_false(g_file_test(report, G_FILE_TEST_EXISTS));
        g_free(summary);
        g_free(report);
    }
    // The refused run left nothing beside the folder in its way: no test.txt,
    // no report, no staging folder.
    GDir *top = g_dir_open(in_the_way, 0, NULL);
    for (const char *name; (name = g_dir_read_name(top));)
        g_assert_cmpstr(name, ==, "ok");
    g_dir_close(top);
    char *ok_dir = g_build_filename(in_the_way, "ok", NULL);
    GDir *inner = g_dir_open(ok_dir, 0, NULL);
    for (const char *name; (name = g_dir_read_name(inner));)
        g_assert_cmpstr(name, ==, "summary.json");
    g_dir_close(inner);
    g_free(ok_dir);
    g_free(in_the_way);
    g_free(blocker);
    g_free(model);
    g_free(corrupt);
    g_free(a_file);
    g_free(blocked);
    g_free(copy_dir);
    g_free(same_name);
    g_free(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_add_earlier_exercises("/ch09", "1-5,7");
    g_test_add_func("/ch09/experiment/two-models", test_experiment_two_models);
    g_test_add_func("/ch09/experiment/default-models", test_experiment_default_models);
    g_test_add_func("/ch09/experiment/bad-input", test_experiment_bad_input);
    return g_test_run();
}
