// vocab.c: token ids <-> token text.
#include "vocab.h"

#include <string.h>

// Written out in full so the ids can be read off: the id is the index.
static const char *const vocab_text[VOCAB_SIZE] = {
    "[START]", "[VARS]", "[EQ]", "ans", "=", "[ANS]", "a", "b", "c", "d", "+", "-",
    "*", "-9", "-8", "-7", "-6", "-5", "-4", "-3", "-2", "-1", "0", "1", "2", "3",
    "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16", "17",
    "18", "19", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30",
    "31", "32", "33", "34", "35", "36", "37", "38", "39", "40", "41", "42", "43",
    "44", "45", "46", "47", "48", "49", "50", "51", "52", "53", "54", "55", "56",
    "57", "58", "59", "60", "61", "62", "63", "64", "65", "66", "67", "68", "69",
    "70", "71", "72", "73", "74", "75", "76", "77", "78", "79", "80", "81",
};

const char *vocab_string(int id)
{
    if (id < 0 || id >= VOCAB_SIZE)
        return NULL;
    return vocab_text[id];
}

int vocab_lookup(const char *text)
{
    // 104 short strings: a linear scan is clear and fast enough for parsing.
    for (int id = 0; id < VOCAB_SIZE; id++)
        if (strcmp(text, vocab_text[id]) == 0)
            return id;
    return -1;
}
