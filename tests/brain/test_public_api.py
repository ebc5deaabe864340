import tierwise.brain


def test_the_serving_api_is_pinned() -> None:
    assert sorted(tierwise.brain.__all__) == [
        "ArtifactError",
        "ScoringRouter",
        "answers_agree",
        "final_answer",
        "load_router",
    ]
