/* test_jsonw: the streaming writer's structure (commas, nesting, keys), string escaping, the
 * Prometheus number and time formats (checked against Go's strconv.FormatFloat output), the
 * sticky cap error, and that what it writes parses as JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/jsonw.h"
#include "lib/mem.h"
#include "lib/sample.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Expected strings from Go: strconv.FormatFloat(v, 'f', -1, 64) for 1e-6 <= |v| < 1e21 and
 * FormatFloat(v, 'e', -1, 64) outside, as Prometheus writes sample values. Values are given in
 * C's hex float notation so the input is exact. Includes powers of two, whose asymmetric
 * rounding interval makes the shortest form differ from the correctly rounded one. */
static const struct {
    double v;
    const char *want;
} go_cases[] = {
    {0x1.999999999999ap-4, "0.1"},
    {0x1.3333333333334p-2, "0.30000000000000004"},
    {0x1.5555555555555p-2, "0.3333333333333333"},
    {0x1.5555555555555p-1, "0.6666666666666666"},
    {0x1.9000000000000p+6, "100"},
    {0x1.0000000000000p+0, "1"},
    {0x1.5000000000000p+5, "42"},
    {-0x1.5400000000000p+5, "-42.5"},
    {0x1.5af1d78b58c40p+66, "100000000000000000000"},
    {0x1.b1ae4d6e2ef50p+69, "1e+21"},
    {0x1.4542ba12a337cp+70, "1.5e+21"},
    {0x1.ac53a7e04bcdap+66, "123456789012345680000"},
    {0x1.b1ae4d6e2ef4fp+69, "999999999999999900000"},
    {0x1.0c6f7a0b5ed8dp-20, "0.000001"},
    {0x1.ad7f29abcaf48p-24, "1e-07"},
    {0x1.0c2ac1dbbe3d8p-20, "9.99e-07"},
    {0x1.0c6f7a0b5ed8dp-20, "0.000001"},
    {0x1.9e0fcaf9380fcp-17, "0.00001234"},
    {0x0.0000000000001p-1022, "5e-324"},
    {0x1.fffffffffffffp+1023, "1.7976931348623157e+308"},
    {0x1.0000000000000p-1022, "2.2250738585072014e-308"},
    {-0x1.0000000000000p-1, "-0.5"},
    {0x1.0000000000000p+53, "9007199254740992"},
    {0x1.0000000000001p+53, "9007199254740994"},
    {0x1.c6bf526340002p+49, "1000000000000000.2"},
    {0x1.01f31f46ed246p-13, "0.000123"},
    {0x1.81cd6c8b43958p+13, "12345.678"},
    {0x1.249ad2594c37dp+332, "1e+100"},
    {0x1.bff2ee48e0530p-333, "1e-100"},
    {-0x1.ad7f29abcaf48p-24, "-1e-07"},
    {0x1.1666666666666p+2, "4.35"},
    {0x1.8000000000000p+0, "1.5"},
    {0x1.1c37937e08000p+53, "10000000000000000"},
    {0x1.6345785d8a000p+56, "100000000000000000"},
    {0x1.d6f3454000000p+26, "123456789"},
    {0x1.9999999999999p-1, "0.7999999999999999"},
    {0x1.4f8b588e368f1p-17, "0.00001"},
    {0x1.921f9f01b866ep+1, "3.14159"},
    {0x1.12e0be826d695p-32, "2.5e-10"},
    {-0x1.12e0be826d695p-32, "-2.5e-10"},
    {0x1.0f0cf064dd592p+73, "1e+22"},
    {0x1.fe185ca57c517p+78, "6.02214076e+23"},
    {0x1.7a4da290c1653p-63, "1.602176634e-19"},
    {0x1.0000000000000p+16, "65536"},
    {0x1.0000000000000p-6, "0.015625"},
    {0x1.92a737110e454p-19, "0.000003"},
    {0x1.0000000000000p-24, "5.960464477539063e-08"},
    {0x1.0000000000000p-44, "5.684341886080802e-14"},
    {-0x1.0000000000000p-97, "-6.310887241768095e-30"},
    {0x1.0000000000000p+89, "6.189700196426902e+26"},
    {0x1.0000000000000p+122, "5.316911983139664e+36"},
    {0x1.0000000000000p+976, "6.386688990511104e+293"},
    {0x1.0000000000000p-1017, "7.120236347223045e-307"},
    {0x1.0000000000000p+60, "1152921504606847000"},
    {0x1.0000000000000p+69, "590295810358705700000"},
    {0x1.0000000000000p+70, "1.1805916207174113e+21"},
    {0x1.0000000000000p-20, "9.5367431640625e-07"},
    {0x1.0000000000000p-19, "0.0000019073486328125"},
    {0x1.0c6f7a0b5ed8cp-20, "9.999999999999997e-07"},
    {-0x1.05faf5c1a0c10p-30, "-9.53078824548157e-10"},
    {0x1.0b360030810c8p+37, "143457781264.1311"},
    {0x1.4f47e440aca03p-21, "6.245092053130196e-07"},
    {-0x1.c1a45c3ae4af0p-93, "-1.7735251032025449e-28"},
    {-0x1.398acca49040bp-85, "-3.165967001143225e-26"},
    {0x1.4e68b20817016p-87, "8.441669122048343e-27"},
    {0x1.2fd8b8d4e76cdp+101, "3.009150681463131e+30"},
    {0x1.7eaec3370dc62p+22, "6269872.803763481"},
    {0x1.474162d8b8d77p-53, "1.4192441255598064e-16"},
    {0x1.4fd13d0585708p-38, "4.772251392143187e-12"},
    {0x1.ccfa8355d8cb7p+21, "3776336.4169174093"},
    {0x1.e25d0b13ba045p-78, "6.234401472962196e-24"},
    {0x1.930e4def4181fp-23, "1.8768751839526002e-07"},
    {0x1.7719a879a29c8p+20, "1536410.5296960939"},
    {-0x1.1cf1a959ed6adp+6, "-71.23599758636074"},
    {-0x1.0992f0ece8940p+65, "-38273245333911240000"},
    {0x1.8d0f2ed24aba7p-22, "3.697902971773141e-07"},
    {0x1.6ca33ce41f5dap+49, "801846667525819.2"},
    {-0x1.c3ef108908707p+21, "-3702242.0669106278"},
    {-0x1.526c3fe0ed8c2p+88, "-4.091281209625359e+26"},
    {0x1.c808ac29d457cp-38, "6.480631171327631e-12"},
    {0x1.0f28319a04273p-74, "5.607395475827942e-23"},
    {-0x1.c4ce018a386f8p+61, "-4078502255438721000"},
    {0x1.1bb767495e681p-13, "0.00013528653134269392"},
    {-0x1.4e5374a7bd6fbp+62, "-6022681773880372000"},
    {-0x1.f2be13331495ep-28, "-7.257658296462934e-09"},
    {0x1.37bcf574bb7d7p+26, "81720277.82394348"},
    {-0x1.381bccef355f5p+77, "-1.8423639647821326e+23"},
    {0x1.d17f08ffd1a74p+2, "7.273378610442354"},
    {-0x1.2c4abbda5233ep-87, "-7.580434011768015e-27"},
    {-0x1.20c7d522bbe48p+39, "-620151607645.9463"},
    {-0x1.061c7bb7f01efp-37, "-7.449650149584732e-12"},
    {-0x1.dff9973108564p-94, "-9.465837099814843e-29"},
    {-0x1.32df55c7d27c4p-64, "-6.498275891347691e-20"},
    {-0x1.d5a4d980f553dp-89, "-2.9638699733771154e-27"},
    {-0x1.ce20d459c1fc3p-71, "-7.645270416353148e-22"},
    {-0x1.84079258cbd99p-14, "-0.00009251346035620555"},
    {-0x1.35267c8c74c8ap-82, "-2.497296542247285e-25"},
    {0x1.55d9cdeee52b8p+18, "350055.21770600555"},
    {-0x1.4a5279e2afcb4p+75, "-4.874694859801681e+22"},
    {0x1.86fa6b4d66a3ap-173, "1.275625897035155e-52"},
    {0x1.c36a0fc891b4ap-289, "1.772828005321655e-87"},
    {0x1.d3b02aec6f024p+787, "1.487041171727873e+237"},
    {0x1.6efae616499c9p+938, "3.3307224984482203e+282"},
    {0x1.1605e3b1287ffp-714, "1.2601547028918822e-215"},
    {0x1.e4d78153e7c2ap-663, "4.948493221712178e-200"},
    {0x1.0c33b26bb7dbdp-548, "1.13706247617509e-165"},
    {0x1.df4f5a8948c89p-546, "8.128284005311379e-165"},
    {0x1.3423f0316909ep-30, "1.1210081858897276e-09"},
    {0x1.8662fd4c28c2ep+183, "1.8695807578194974e+55"},
    {0x1.1ae622eae05cfp-485, "1.1062250899989069e-146"},
    {0x1.623ac482c9cbcp-1015, "3.9409346806608853e-306"},
    {0x1.009f7254b0c4ep-165, "2.143413956286469e-50"},
    {0x1.3b37688daf401p-267, "5.192303275075977e-81"},
    {0x1.dde889c1caaf7p+136, "1.626237851915428e+41"},
    {0x1.f1ce0519088f5p+928, "4.4121986812423293e+279"},
    {0x1.2189620203626p+391, "5.704162472800496e+117"},
    {0x1.b9f8bdbf4a8b2p+32, "7415053759.291185"},
    {0x1.d477af341e07ap+241, "6.466487950084464e+72"},
    {0x1.db96da7abe1c2p+361, "8.726106682803388e+108"},
};

/* Runs fn against a fresh writer and returns the output (static storage). */
static const char *out_of(void (*fn)(jsonw *))
{
    static char copy[8192];
    buf b;
    buf_init(&b, 0);
    jsonw w;
    jsonw_init(&w, &b);
    fn(&w);
    assert_int_equal(b.err, 0);
    snprintf(copy, sizeof copy, "%s", b.data ? b.data : "");
    buf_free(&b);
    return copy;
}

static void format_value_matches_go_strconv(void **state)
{
    (void)state;
    char out[64];
    for (size_t i = 0; i < sizeof go_cases / sizeof go_cases[0]; i++) {
        size_t n = jsonw_format_value(go_cases[i].v, out, sizeof out);
        if (strcmp(out, go_cases[i].want) != 0)
            fail_msg("case %zu (%a): got %s, want %s", i, go_cases[i].v, out, go_cases[i].want);
        assert_int_equal(n, strlen(go_cases[i].want));
        /* The negated value is the same text with a minus sign. */
        char neg[64];
        jsonw_format_value(-go_cases[i].v, neg, sizeof neg);
        const char *a = neg[0] == '-' ? neg + 1 : neg, *b = out[0] == '-' ? out + 1 : out;
        assert_string_equal(a, b);
    }
}

static void format_value_special_values(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0.0, "0"},
        {-0.0, "-0"},
        {INFINITY, "+Inf"},
        {-INFINITY, "-Inf"},
        {NAN, "NaN"},
        {-NAN, "NaN"},
        {1.0, "1"},
        {-1.0, "-1"},
        {10.0, "10"},
        {0.5, "0.5"},
        {1e-6, "0.000001"},
        {1e-7, "1e-07"},
        {1.5e21, "1.5e+21"},
        {1e21, "1e+21"},
        {999999999999999868928.0, "999999999999999900000"},
        {1e20, "100000000000000000000"},
    };
    char out[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        jsonw_format_value(cases[i].v, out, sizeof out);
        if (strcmp(out, cases[i].want) != 0)
            fail_msg("case %zu: got %s, want %s", i, out, cases[i].want);
    }
    /* The stale marker is a NaN too. */
    jsonw_format_value(sample_stale_value(), out, sizeof out);
    assert_string_equal(out, "NaN");
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
    /* xorshift64*: a fixed sequence, so failures reproduce. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static void format_value_round_trips_random_doubles(void **state)
{
    (void)state;
    char out[64], g17[64];
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = rng();
        double v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v))
            continue;
        size_t n = jsonw_format_value(v, out, sizeof out);
        assert_int_equal(n, strlen(out));
        if (strtod(out, NULL) != v)
            fail_msg("%a formatted as %s does not read back", v, out);
        /* Shortest: never more significant digits than %.17g needs. */
        snprintf(g17, sizeof g17, "%.17g", v);
        double a = fabs(v);
        int want_e = a != 0 && (a < 1e-6 || a >= 1e21);
        int has_e = strchr(out, 'e') != NULL;
        if (want_e != has_e)
            fail_msg("%a formatted as %s: wrong notation", v, out);
        if (has_e) {
            /* Go writes at least two exponent digits and always a sign. */
            const char *e = strchr(out, 'e');
            assert_true(e[1] == '+' || e[1] == '-');
            assert_true(strlen(e + 2) >= 2);
        }
    }
}

static void format_value_truncates_to_cap(void **state)
{
    (void)state;
    char out[8];
    memset(out, 'X', sizeof out);
    size_t n = jsonw_format_value(0.30000000000000004, out, 5);
    assert_int_equal(n, strlen("0.30000000000000004"));
    assert_string_equal(out, "0.30");
    assert_int_equal(out[5], 'X');
}

static void w_prom_values(jsonw *w)
{
    jsonw_arr_open(w);
    jsonw_prom_value(w, 1.5);
    jsonw_prom_value(w, NAN);
    jsonw_prom_value(w, INFINITY);
    jsonw_prom_value(w, -INFINITY);
    jsonw_prom_value(w, 1e-7);
    jsonw_prom_value(w, -0.0);
    jsonw_arr_close(w);
}

static void prom_value_is_a_quoted_string(void **state)
{
    (void)state;
    assert_string_equal(out_of(w_prom_values),
                        "[\"1.5\",\"NaN\",\"+Inf\",\"-Inf\",\"1e-07\",\"-0\"]");
}

static void prom_time_formats_seconds_with_millis(void **state)
{
    (void)state;
    static const struct {
        int64_t ms;
        const char *want;
    } cases[] = {
        {1500, "1.500"},
        {1000, "1"},
        {50, "0.050"},
        {5, "0.005"},
        {0, "0"},
        {1, "0.001"},
        {999, "0.999"},
        {1010, "1.010"},
        {1732380000000, "1732380000"},
        {1732380000123, "1732380000.123"},
        {-1500, "-1.500"},
        {-50, "-0.050"},
        {-1000, "-1"},
        {INT64_MAX, "9223372036854775.807"},
        {INT64_MIN, "-9223372036854775.808"},
        {INT64_MIN + 1, "-9223372036854775.807"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf b;
        buf_init(&b, 0);
        jsonw w;
        jsonw_init(&w, &b);
        jsonw_prom_time(&w, cases[i].ms);
        if (strcmp(b.data, cases[i].want) != 0)
            fail_msg("case %zu (%lld): got %s, want %s", i, (long long)cases[i].ms, b.data,
                     cases[i].want);
        buf_free(&b);
    }
}

static void w_sample_pair(jsonw *w)
{
    jsonw_arr_open(w);
    jsonw_prom_time(w, 1500);
    jsonw_prom_value(w, 2);
    jsonw_arr_close(w);
}

static void prom_time_takes_part_in_comma_placement(void **state)
{
    (void)state;
    assert_string_equal(out_of(w_sample_pair), "[1.500,\"2\"]");
}

static void w_structure(jsonw *w)
{
    jsonw_obj_open(w);
    jsonw_kv_str(w, "status", "success");
    jsonw_key(w, "data");
    jsonw_obj_open(w);
    jsonw_kv_str(w, "resultType", "vector");
    jsonw_key(w, "result");
    jsonw_arr_open(w);
    for (int i = 0; i < 2; i++) {
        jsonw_obj_open(w);
        jsonw_key(w, "metric");
        jsonw_obj_open(w);
        jsonw_obj_close(w);
        jsonw_key(w, "value");
        jsonw_arr_open(w);
        jsonw_int(w, i);
        jsonw_bool(w, i);
        jsonw_null(w);
        jsonw_arr_close(w);
        jsonw_obj_close(w);
    }
    jsonw_arr_close(w);
    jsonw_kv_int(w, "n", -7);
    jsonw_key(w, "empty");
    jsonw_arr_open(w);
    jsonw_arr_close(w);
    jsonw_obj_close(w);
    jsonw_obj_close(w);
}

static void structure_places_commas_and_colons(void **state)
{
    (void)state;
    assert_string_equal(out_of(w_structure),
                        "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
                        "{\"metric\":{},\"value\":[0,false,null]},"
                        "{\"metric\":{},\"value\":[1,true,null]}],\"n\":-7,\"empty\":[]}}");
}

static void w_top_level_sequence(jsonw *w)
{
    jsonw_int(w, 1);
    jsonw_str(w, "a");
    jsonw_str(w, NULL);
    jsonw_int(w, LLONG_MIN);
    jsonw_int(w, LLONG_MAX);
}

static void scalars_and_null_strings(void **state)
{
    (void)state;
    assert_string_equal(out_of(w_top_level_sequence),
                        "1,\"a\",null,-9223372036854775808,9223372036854775807");
}

static void w_numbers(jsonw *w)
{
    jsonw_arr_open(w);
    jsonw_num(w, 0.1);
    jsonw_num(w, NAN);
    jsonw_num(w, INFINITY);
    jsonw_num(w, -INFINITY);
    jsonw_num(w, 1e21);
    jsonw_num(w, -2.5);
    jsonw_num(w, 3);
    jsonw_arr_close(w);
}

static void num_writes_null_for_non_finite(void **state)
{
    (void)state;
    assert_string_equal(out_of(w_numbers), "[0.1,null,null,null,1e+21,-2.5,3]");
}

static void string_escaping_table(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t n;
        const char *want;
    } cases[] = {
        {"plain", 5, "\"plain\""},
        {"", 0, "\"\""},
        {"q\"uote", 6, "\"q\\\"uote\""},
        {"back\\slash", 10, "\"back\\\\slash\""},
        {"a\nb\rc\td", 7, "\"a\\nb\\rc\\td\""},
        {"\x01\x02\x1f", 3, "\"\\u0001\\u0002\\u001f\""},
        {"\b\f", 2, "\"\\u0008\\u000c\""},
        {"nul\0byte", 8, "\"nul\\u0000byte\""},
        {"del\x7f", 4, "\"del\x7f\""},
        {"ünïcødé €", 15, "\"ünïcødé €\""},
        {"</script>", 9, "\"</script>\""},
        {"\"\\\"", 3, "\"\\\"\\\\\\\"\""},
        {"end\\", 4, "\"end\\\\\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf b;
        buf_init(&b, 0);
        jsonw w;
        jsonw_init(&w, &b);
        jsonw_strn(&w, cases[i].in, cases[i].n);
        if (strcmp(b.data, cases[i].want) != 0)
            fail_msg("case %zu: got %s, want %s", i, b.data, cases[i].want);
        /* jansson reads the same bytes back. */
        json_error_t jerr;
        json_t *j = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (!j)
            fail_msg("case %zu: jansson: %s", i, jerr.text);
        assert_int_equal(json_string_length(j), cases[i].n);
        assert_memory_equal(json_string_value(j), cases[i].in, cases[i].n);
        json_decref(j);
        buf_free(&b);
    }
}

static void keys_are_escaped_too(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 0);
    jsonw w;
    jsonw_init(&w, &b);
    jsonw_obj_open(&w);
    jsonw_kv_str(&w, "k\"e\ny", "v");
    jsonw_obj_close(&w);
    assert_string_equal(b.data, "{\"k\\\"e\\ny\":\"v\"}");
    buf_free(&b);
}

static void every_control_byte_round_trips_through_jansson(void **state)
{
    (void)state;
    char in[128];
    for (int i = 0; i < 128; i++)
        in[i] = (char)i;
    buf b;
    buf_init(&b, 0);
    jsonw w;
    jsonw_init(&w, &b);
    jsonw_strn(&w, in, sizeof in);
    json_error_t jerr;
    json_t *j = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!j)
        fail_msg("jansson: %s in %s", jerr.text, b.data);
    assert_int_equal(json_string_length(j), sizeof in);
    assert_memory_equal(json_string_value(j), in, sizeof in);
    json_decref(j);
    buf_free(&b);
}

static void deep_nesting_up_to_the_limit(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 0);
    jsonw w;
    jsonw_init(&w, &b);
    int depth = JSONW_MAX_DEPTH - 1;
    for (int i = 0; i < depth; i++) {
        jsonw_arr_open(&w);
        jsonw_int(&w, i);
    }
    for (int i = 0; i < depth; i++) {
        jsonw_arr_close(&w);
        jsonw_int(&w, -i);
    }
    /* The top level is a sequence of two values ([0,[1,...],-29] and -30): wrap it to parse. */
    json_error_t jerr;
    buf wrapped;
    buf_init(&wrapped, 0);
    buf_printf(&wrapped, "[%s]", b.data);
    json_t *j = json_loads(wrapped.data, 0, &jerr);
    if (!j)
        fail_msg("jansson: %s in %s", jerr.text, wrapped.data);
    assert_int_equal(json_array_size(j), 2);
    assert_int_equal(json_integer_value(json_array_get(j, 1)), -(depth - 1));
    /* Walk down: every level holds i, the next level, and -(i+1)'s predecessor. */
    json_t *level = json_array_get(j, 0);
    for (int i = 0; i < depth; i++) {
        assert_true(json_is_array(level));
        assert_int_equal(json_integer_value(json_array_get(level, 0)), i);
        if (i < depth - 1) {
            assert_int_equal(json_array_size(level), 3);
            assert_int_equal(json_integer_value(json_array_get(level, 2)), -(depth - 2 - i));
            level = json_array_get(level, 1);
        } else {
            assert_int_equal(json_array_size(level), 1);
        }
    }
    json_decref(j);
    buf_free(&wrapped);
    buf_free(&b);
}

static void cap_error_is_sticky_and_reported_once(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 16);
    jsonw w;
    jsonw_init(&w, &b);
    jsonw_arr_open(&w);
    for (int i = 0; i < 100; i++)
        jsonw_str(&w, "a string that will not fit");
    jsonw_arr_close(&w);
    assert_int_equal(b.err, -E2BIG);
    assert_true(b.len <= 16);
    buf_free(&b);
}

static void big_document_parses_back(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 0);
    jsonw w;
    jsonw_init(&w, &b);
    jsonw_arr_open(&w);
    for (int i = 0; i < 2000; i++) {
        jsonw_obj_open(&w);
        jsonw_kv_int(&w, "i", i);
        jsonw_key(&w, "v");
        jsonw_arr_open(&w);
        jsonw_prom_time(&w, (int64_t)i * 1001);
        jsonw_prom_value(&w, i / 7.0);
        jsonw_arr_close(&w);
        jsonw_obj_close(&w);
    }
    jsonw_arr_close(&w);
    assert_int_equal(b.err, 0);
    json_error_t jerr;
    json_t *j = json_loadb(b.data, b.len, 0, &jerr);
    if (!j)
        fail_msg("jansson: %s", jerr.text);
    assert_int_equal(json_array_size(j), 2000);
    json_t *e = json_array_get(j, 1234);
    assert_int_equal(json_integer_value(json_object_get(e, "i")), 1234);
    json_t *v = json_object_get(e, "v");
    assert_true(json_real_value(json_array_get(v, 0)) == 1235.234);
    assert_true(strtod(json_string_value(json_array_get(v, 1)), NULL) == 1234 / 7.0);
    json_decref(j);
    buf_free(&b);
}

/* The fast paths (15 digits scaled in binary, 16-17 in extended precision) must give exactly
 * the digits of the slow search
 * (the shortest correctly rounded %.*e that reads back) on many values of every kind:
 * decimal-looking gauges, integers, random bit patterns. */
static void format_value_fast_path_agrees_with_the_search(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 500000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        switch (i % 5) {
        case 4: v = (double)(x % 100000000) / 7.0 / (double)(1 + (x >> 40) % 1000); break;
        case 0: v = (double)(x % 100000000) / 100.0; break;
        case 1: v = (double)(x % 1000000) / 1e6 * 1e3; break;
        case 2: {
            uint64_t bits = x & 0x7fefffffffffffffULL;
            memcpy(&v, &bits, 8);
            break;
        }
        default: v = (double)(x % 1000) * 0.1 + 0.7; break;
        }
        int e2;
        if (v == 0 || !isfinite(v) || frexp(v, &e2) == 0.5)
            continue;
        /* The reference: shortest %.*e that reads back. */
        char ref[40];
        for (int prec = 0; prec < 17; prec++) {
            snprintf(ref, sizeof ref, "%.*e", prec, v);
            if (strtod(ref, NULL) == v)
                break;
        }
        char got[64];
        jsonw_format_value(v, got, sizeof got);
        if (strtod(got, NULL) != v)
            fail_msg("%.17g formatted as %s, which reads back differently", v, got);
        /* Same significant digits. */
        char a[24], b[24];
        size_t na = 0, nb = 0;
        for (const char *p = ref; *p && *p != 'e'; p++)
            if (*p >= '0' && *p <= '9' && na < 23)
                a[na++] = *p;
        int lead = 1;
        for (const char *p = got; *p && *p != 'e'; p++) {
            if (*p < '0' || *p > '9')
                continue;
            if (lead && *p == '0')
                continue;
            lead = 0;
            if (nb < 23)
                b[nb++] = *p;
        }
        while (na > 1 && a[na - 1] == '0')
            na--;
        while (nb > 1 && b[nb - 1] == '0')
            nb--;
        if (na != nb || memcmp(a, b, na))
            fail_msg("%.17g: got %s, reference %s", v, got, ref);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(format_value_matches_go_strconv),
        cmocka_unit_test(format_value_fast_path_agrees_with_the_search),
        cmocka_unit_test(format_value_special_values),
        cmocka_unit_test(format_value_round_trips_random_doubles),
        cmocka_unit_test(format_value_truncates_to_cap),
        cmocka_unit_test(prom_value_is_a_quoted_string),
        cmocka_unit_test(prom_time_formats_seconds_with_millis),
        cmocka_unit_test(prom_time_takes_part_in_comma_placement),
        cmocka_unit_test(structure_places_commas_and_colons),
        cmocka_unit_test(scalars_and_null_strings),
        cmocka_unit_test(num_writes_null_for_non_finite),
        cmocka_unit_test(string_escaping_table),
        cmocka_unit_test(keys_are_escaped_too),
        cmocka_unit_test(every_control_byte_round_trips_through_jansson),
        cmocka_unit_test(deep_nesting_up_to_the_limit),
        cmocka_unit_test(cap_error_is_sticky_and_reported_once),
        cmocka_unit_test(big_document_parses_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
