"""Chunks are sentence-aligned, carry exact spans, and never exceed the model's window."""

from pathlib import Path

from rag.chunking import TokenCounter, chunk_document, embed_prefix, split_sentences
from rag.documents import Document, Section


def test_sentences_split_after_citation_numbers_but_not_after_abbreviations():
    text = (
        "Calcinosis affects the skin.1,2 It was seen by Dr. T. Gazitt et al. in 2019. "
        "The dose was 2.5 mg daily. Is it rare? Yes. FEV1 was 1.9 L (52% predicted). "
        "Imaging (Fig. 1a) showed a 3.7 French catheter in the vein.4 It was removed."
    )
    sentences = [text[s.start : s.end] for s in split_sentences(text)]
    assert sentences == [
        "Calcinosis affects the skin.1,2",
        "It was seen by Dr. T. Gazitt et al. in 2019.",
        "The dose was 2.5 mg daily.",
        "Is it rare?",
        "Yes.",
        "FEV1 was 1.9 L (52% predicted).",
        "Imaging (Fig. 1a) showed a 3.7 French catheter in the vein.4",
        "It was removed.",
    ]


def _long_doc() -> Document:
    sentences = [
        f"Sentence {i} describes finding number {i} in the cervical spine of the patient."
        for i in range(60)
    ]
    sections = [
        Section("Case presentation", " ".join(sentences[:40])),
        Section("Discussion", " ".join(sentences[40:])),
    ]
    return Document("d1", "d1.txt", "0" * 64, sections, title="A long case")


def test_chunks_keep_spans_sections_and_overlap(pipeline):
    counter = TokenCounter(pipeline.settings.model_path)
    doc = _long_doc()
    chunks = chunk_document(doc, counter, max_tokens=120, overlap_tokens=30)
    assert len(chunks) > 3
    for c in chunks:
        assert doc.text[c.char_start : c.char_end] == c.text
        assert c.section in {"Case presentation", "Discussion"}
    # A chunk never spans two sections.
    first_discussion = next(c for c in chunks if c.section == "Discussion")
    assert first_discussion.text.startswith("Sentence 40 ")
    # Consecutive chunks of one section share their boundary sentence(s).
    a, b = chunks[0], chunks[1]
    assert b.char_start < a.char_end
    assert b.text.split(". ")[0] in a.text


def reference_model(settings):
    """The sentence-transformers model itself, whatever backend the pipeline runs on."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(settings.model_path), local_files_only=True)


def test_no_chunk_exceeds_the_model_window_by_the_models_own_tokenizer(pipeline):
    model = reference_model(pipeline.settings)
    counter = TokenCounter(pipeline.settings.model_path)
    giant = "word " * 900 + "end."  # one sentence far beyond the window
    doc = Document("d2", "d2.txt", "1" * 64, [Section("Methods", giant)], title="Giant")
    chunks = chunk_document(doc, counter, max_tokens=256, overlap_tokens=40)
    seeds = pipeline.store.chunks(range(1, 10_000))
    texts = [embed_prefix("Giant", "Methods") + c.text for c in chunks]
    texts += [
        embed_prefix(info.title, chunk.section) + chunk.text for chunk, info in seeds.values()
    ]
    assert len(chunks) >= 4 and len(seeds) >= 10
    for text in texts:
        n = len(model.tokenizer(text, truncation=False)["input_ids"])
        assert n <= model.max_seq_length, (n, text[:80])


def test_token_counter_reads_the_window_from_the_model_folder(pipeline):
    counter = TokenCounter(Path(pipeline.settings.model_path))
    assert counter.window == reference_model(pipeline.settings).max_seq_length - 2
