"""Pure ranking functions: query words, reciprocal rank fusion, matched fields."""

from lucida.ranking import RRF_K, matched_fields, query_words, reciprocal_rank_fusion


def test_query_words_drop_stopwords_and_repeats_and_keep_years():
    assert query_words("A photo of the Dog, the dog and a CAT in 2019") == ["dog", "cat", "2019"]
    assert query_words("the of a") == []


def test_rrf_sums_reciprocal_ranks_and_rewards_agreement():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 4]])
    scores = dict(fused)
    assert scores[3] == 1 / (RRF_K + 3) + 1 / (RRF_K + 1)
    assert scores[1] == 1 / (RRF_K + 1)
    assert [item for item, _ in fused] == [3, 1, 2, 4]


def test_rrf_weights_and_ties_keep_first_ranking_order():
    assert [i for i, _ in reciprocal_rank_fusion([[7, 8], [8, 7]])] == [7, 8]
    assert [i for i, _ in reciprocal_rank_fusion([[7, 8], [8, 7]], weights=[1.0, 2.0])] == [8, 7]
    assert reciprocal_rank_fusion([]) == []


def test_matched_fields_finds_whole_words_per_field():
    fields = {"classes": "espresso (strong black coffee).", "colours": "black and white photo"}
    assert matched_fields(fields, ["Black", "white", "blackbird"]) == {
        "classes": ["black"],
        "colours": ["black", "white"],
    }
