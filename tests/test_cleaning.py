"""The cleaner: unicode, hyphenation, headers/footers, references, site chrome, by-lines."""

from rag.documents import Section
from rag.ingest.clean import (
    clean_sections,
    common_line_keys,
    dehyphenate,
    is_chrome,
    is_front_matter,
    line_keys,
    normalize_unicode,
)


def test_unicode_ligatures_odd_spaces_and_invisible_marks():
    raw = "The ﬁrst\u00a0signs\u2009of calci\u00adnosis\u200b were ﬂuid-ﬁlled."
    assert normalize_unicode(raw) == "The first signs of calcinosis were fluid-filled."


def test_dehyphenation_joins_broken_words_but_keeps_real_hyphens():
    assert dehyphenate("hyper-\nextension injury") == "hyperextension injury"
    assert dehyphenate("anti-\nScl70 antibodies") == "anti-\nScl70 antibodies"


def test_site_chrome_of_an_unseen_site_is_removed_and_prose_kept():
    chrome = [
        "Sign in to your account",
        "Subscribe to our newsletter",
        "Accept all cookies",
        "Share on Facebook",
        "© 2024 Example Health. All rights reserved.",
        "Home > Journals > Case Reports",
    ]
    prose = [
        "A 41-year-old man presented with fever and a painful swelling of the left knee.",
        "Cultures of the joint aspirate grew methicillin-sensitive Staphylococcus aureus.",
        "Contact with the patient's family revealed no history of similar complaints.",
    ]
    assert [line for line in chrome if not is_chrome(line)] == []
    assert [line for line in prose if is_chrome(line)] == []


def test_lines_repeated_across_documents_are_chrome_but_headings_are_not():
    docs = [
        "Abstract\nFirst article text about gout.\nRate this article on our site now",
        "Abstract\nSecond article text about lupus.\nRate this article on our site now",
    ]
    common = common_line_keys(line_keys(d) for d in docs)
    sections = clean_sections([Section(None, docs[0])], common)
    text = " ".join(s.text for s in sections)
    assert "Rate this article" not in text
    assert "First article text about gout." in text
    assert sections[0].heading == "Abstract"


def test_reference_list_is_kept_out_and_headings_become_sections():
    raw = (
        "Case presentation\n\nA 70-year-old woman had hip pain.\n\n"
        "Discussion\n\nHip pain is common.\n\n"
        "REFERENCES\n\n1. Smith J. Hip pain. J Hip 2001;1:1-2.\n2. Doe A. Pain. Lancet 1999;3:4."
    )
    sections = clean_sections([Section(None, raw)])
    assert [(s.heading, s.text) for s in sections] == [
        ("Case presentation", "A 70-year-old woman had hip pain."),
        ("Discussion", "Hip pain is common."),
    ]


def test_a_sentence_wrapped_early_after_a_heading_is_not_taken_for_one():
    """Text from a PDF may wrap a paragraph's first line short: "A 14-year-old girl was
    referred with" is the start of a sentence (it runs on into the next line in lower case),
    not a heading that would cut the age off the case."""
    body = (
        "nine days of severe left retro-orbital pain and three days of double vision and a\n"
        "drooping left eyelid. The pain was constant, boring and worse at night, and she\n"
        "rated it eight out of ten. She had mild atopic eczema and took no medicines."
    )
    for first in ("A 14-year-old girl was referred with", "At week 4 a review found"):
        raw = f"Case presentation\n{first}\n{body}\n\nDiscussion\n\nThe syndrome is rare."
        sections = clean_sections([Section(None, raw)])
        assert [s.heading for s in sections] == ["Case presentation", "Discussion"]
        assert sections[0].text.startswith(f"{first} nine days of severe")


def test_running_headers_footers_and_page_numbers_are_removed():
    bodies = [
        "The patient was admitted with fever.\nBlood cultures were drawn on arrival.",
        "Imaging showed a paraspinal collection.\nDrainage was performed under CT guidance.",
        "Antibiotics were given for six weeks.\nThe collection resolved on repeat imaging.",
        "At one year she remained well.\nNo recurrence was seen on follow-up.",
    ]
    pages = [
        Section(None, f"Journal of Spine Cases 2021\n{body}\nPage {n} of 4", page=n)
        for n, body in enumerate(bodies, start=1)
    ]
    sections = clean_sections(pages)
    assert [(s.page, s.text) for s in sections] == [
        (n, body.replace("\n", " ")) for n, body in enumerate(bodies, start=1)
    ]


def test_a_text_files_running_footer_is_dropped_and_the_table_beside_it_kept():
    """Text extracted from a PDF keeps the journal's footer at each page end but not the
    page break: it is no heading, and the section it would have opened goes on."""
    raw = (
        "Case presentation\n"
        "A 61-year-old man had three months of progressive leg stiffness and falls.\n"
        "Examination showed spastic paraparesis with brisk reflexes.\n\n"
        "Spine Neuro Case J 2025;11(3):214-220 Page 1 of 3\n\n"
        "Table 1. Laboratory values\n"
        "Test Admission 3 months\n"
        "CRP 12 4\n\n"
        "MRI showed cord compression at T10-T11 from an ossified ligament.\n"
        "He underwent laminectomy from T10 to T11 on the fourth day.\n\n"
        "Spine Neuro Case J 2025;11(3):214-220 Page 2 of 3\n\n"
        "At six months he walked without aids.\n\n"
        "Discussion\n\n"
        "Ossification of the ligamentum flavum is a known cause of thoracic myelopathy."
    )
    sections = clean_sections([Section(None, raw)])
    assert [s.heading for s in sections] == ["Case presentation", "Discussion"]
    case = sections[0].text
    assert "Spine Neuro" not in case and "Page" not in case
    assert "Test Admission 3 months" in case and "CRP 12 4" in case
    assert case.endswith("At six months he walked without aids.")
    # A line that a report repeats without a year or a page is no footer: it stays.
    again = raw.replace("Spine Neuro Case J 2025;11(3):214-220 Page 1 of 3", "Left leg")
    again = again.replace("Spine Neuro Case J 2025;11(3):214-220 Page 2 of 3", "Left leg")
    kept = " ".join(f"{s.heading} {s.text}" for s in clean_sections([Section(None, again)]))
    assert "Left leg" in kept


def test_sentences_ending_in_a_glued_citation_next_to_a_running_header_are_kept():
    """Text extracted from a PDF glues superscript citations to the full stop ("a useful
    marker.4"); such sentences around a page's running header were once taken for the
    header's chrome and lost (a whole Discussion paragraph of a journal's text file)."""
    header = "Haematology Case Journal 2025; 11(3): 144-151 | https://doi.org/10.5512/hcj.2025.0317"
    raw = (
        "Case presentation\n\n"
        "A 56-year-old farmer presented with four months of fatigue and a"
        " second pneumonia within three months. He had\n"
        "pancytopenia with profound monocytopenia, splenomegaly and a dry tap"
        " on marrow aspiration, and the trephine\n"
        "biopsy showed a diffuse interstitial infiltrate with widely spaced"
        " nuclei and grade 2 reticulin fibrosis.\n\n"
        f"{header}  146\n"
        "Solberg et al.   Hairy cell leukaemia in a farmer\n\n"
        "He was treated with a single course of subcutaneous cladribine, and"
        " his blood counts recovered over three\n"
        "months. A second trephine showed scattered residual hairy cells and"
        " normal trilineage haematopoiesis.\n\n"
        "Discussion\n\n"
        "A dry tap is common in this disease because the cells are embedded in"
        " dense reticulin. The mutation is present\n"
        "in almost all cases of the classic form and absent from its variant,"
        " which makes it a useful diagnostic marker.4\n\n"
        f"{header}  149\n"
        "Solberg et al.   Hairy cell leukaemia in a farmer\n\n"
        "Infection is the leading cause of death in untreated disease, and"
        " guidelines advise treating active infection\n"
        "before a purine analogue is started, since cladribine deepens"
        " neutropenia for two to three weeks.5 A single\n"
        "course produces complete remission in 75% to 90% of patients, and the"
        " median time to relapse exceeds a\n"
        "decade.6 For relapsed disease, oral inhibitors of the mutated kinase"
        " are a further option.8\n\n"
        f"{header}  151\n"
    )
    text = " ".join(s.text for s in clean_sections([Section(None, raw)]))
    assert "which makes it a useful diagnostic marker.4" in text
    assert "Infection is the leading cause of death" in text
    assert "complete remission in 75% to 90% of patients" in text
    assert "oral inhibitors of the mutated kinase are a further option" in text
    assert "Haematology Case Journal" not in text and "Solberg et al." not in text


def test_a_paragraph_cut_off_or_ending_in_a_citation_is_kept():
    """Abstracts often end in a truncation mark or a citation, not a full stop."""
    paragraph = (
        "A 62-year-old woman with limited cutaneous systemic sclerosis presented with low "
        "back pain. Imaging showed a calcified mass compressing the left L5 nerve root. "
        "The mass was resected and her pain resolved. Ann Rheum Dis. 2019;78:1021-1023"
    )
    cut = paragraph.rsplit(".", 1)[0] + ". The patient remained well at two years and"
    for text in (paragraph, cut, cut + " (ABSTRACT TRUNCATED AT 250 WORDS)"):
        sections = clean_sections([Section(None, f"# Calcinosis in SSc\n\n{text}\n")])
        assert [s.text for s in sections] == [text]


def test_a_long_paragraph_naming_a_website_twice_is_prose():
    paragraph = (
        "We compared drug information written by patients on a health website with the "
        "professional monographs of the same drugs. Two pharmacists rated 120 statements "
        "for accuracy and completeness, and the consumer website covered adverse effects "
        "that the monographs omitted, at a similar accuracy for the effects both reported. "
        "Patients' reports may complement professional sources of drug information."
    )
    assert not is_chrome(paragraph)
    assert is_chrome("Visit our website. Read our privacy policy and cookie settings.")


def test_a_numbered_list_of_links_is_not_taken_for_prose():
    menu = (
        "Most read 1. Pitfalls in the diagnosis of giant cell arteritis 2. Eye emergencies "
        "for the general physician 3. Spontaneous splenic rupture in a marathon runner 4. "
        "Gout of the spine"
    )
    sections = clean_sections(
        [
            Section(
                None, f"# A case of gout\n\nThe patient had tophaceous gout of the knee.\n\n{menu}"
            )
        ]
    )
    assert all("Most read" not in s.text for s in sections)


def test_by_lines_and_correspondence_blocks_are_front_matter():
    assert is_front_matter("Ann Lee, MD, PhD, Omar Haddad, MBBS, Department of Neurosurgery.")
    assert is_front_matter("Address correspondence to Dr. A. Lee, Hospital X. Email: al@x.org.")
    # Clinical prose keeps its abbreviations: MS is multiple sclerosis here, not a degree.
    assert not is_front_matter("MS relapses were fewer; MS lesions shrank; no MS flare followed.")
    assert not is_front_matter("A 57-year-old MD presented with neck pain after a fall.")


def test_seed_front_matter_stays_out_of_the_index(pipeline):
    texts = [c.text for c, _ in pipeline.store.chunks(range(1, 10_000)).values()]
    assert not any("Address correspondence" in t or "tgazitt@" in t for t in texts)
    assert any("diagnosed with diffuse SSc" in t for t in texts)  # the case itself stays


def _flat(page: str, common: set[str] | None = None) -> str:
    return " // ".join(s.text for s in clean_sections([Section(None, page)], common or set()))


def test_web_labels_run_onto_a_flattened_pages_items_are_cut_off():
    """Labels ("Sponsored", "Most read", "Next post:") and a notice run onto the article's
    items or onto a list of titles, in a page that lost its line breaks."""
    page = (
        "Case presentation A 50-year-old baker had a cough for three months. "
        "The drugs he took at home were: Sponsored Amlodipine 5 mg daily Ramipril 10 mg "
        "daily Most read 1. Caring for the ageing heart 2. Ten rashes to know "
        "Discussion A cough from an ACE inhibitor stops when the drug is stopped. "
        "Previous post: Ten rashes to know Next post: Caring for the ageing heart "
        "Why doctors blog © 2023 Baker Health Ltd. Cite this article: Eur J Rare Cases. 4(2)."
    )
    text = _flat(page)
    assert "A 50-year-old baker had a cough for three months." in text
    assert "Amlodipine 5 mg daily Ramipril 10 mg daily" in text
    assert "A cough from an ACE inhibitor stops when the drug is stopped." in text
    for chrome in ("Sponsored", "Most read", "rashes", "ageing", "blog", "Baker Health"):
        assert chrome not in text
    assert "Eur J" not in text


def test_publication_history_and_a_shared_licence_run_into_the_last_paragraph_are_cut():
    licence = "This article is free to share under the terms of the licence of the journal."
    cases = [
        "Brucellosis in a farmer followed a month of drinking raw milk from his goats.",
        "Q fever in a shepherd followed the lambing season on a windy upland farm.",
        "Tularaemia in a hunter followed skinning rabbits without gloves in the autumn.",
    ]
    docs = [
        f"Discussion\n\n{cases[0]} Received: 2 May 2020; Accepted: 9 June 2021 {licence}",
        f"Summary\n\n{cases[1]}\n\n{licence}",
        f"Summary\n\n{cases[2]}\n\n{licence}",
    ]
    common = common_line_keys(line_keys(d) for d in docs)
    assert _flat(docs[0], common) == cases[0]
