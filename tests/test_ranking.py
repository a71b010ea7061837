"""Pure ranking functions: query words, reciprocal rank fusion values, matched fields."""

from lucida.ranking import RRF_K, fused_value, matched_fields, query_words


def test_query_words_drop_stopwords_and_repeats_and_keep_years():
    assert query_words("A photo of the Dog, the dog and a CAT in 2019") == ["dog", "cat", "2019"]
    assert query_words("the of a") == []


def test_fused_value_sums_weighted_reciprocal_ranks_of_the_rankings_holding_it():
    assert fused_value([3, 1], [1.0, 1.0]) == 1 / (RRF_K + 3) + 1 / (RRF_K + 1)
    assert fused_value([None, 2], [1.0, 0.5]) == 0.5 / (RRF_K + 2)  # not in the first ranking
    assert fused_value([None, None], [1.0, 1.0]) == 0
    assert fused_value([1, 5], [1.0, 1.0]) > fused_value([2, 5], [1.0, 1.0])  # a higher rank counts more


def test_matched_fields_finds_whole_words_per_field():
    fields = {"classes": "espresso (strong black coffee).", "colours": "black and white photo"}
    assert matched_fields(fields, ["Black", "white", "blackbird"]) == {
        "classes": ["black"],
        "colours": ["black", "white"],
    }
