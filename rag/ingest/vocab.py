"""Word lists of the cleaner and the segmenter (site chrome, legal notices, headings), and
the two word tests both use: a line's words, and whether a line is a standard heading."""

import re

# Words typical of site chrome: navigation, calls to action, accounts, sharing, legal.
CHROME_WORDS = frozenset(
    """about accept access account advertise advertisement affiliation all app browse browser
    call cart citation cite click contact content cookie cookies copyright disclaimer download
    email endorsement facebook faq feedback follow footer full help home join linkedin log login
    menu more navigation newsletter now our owners page paper pdf permissions platform policy
    print privacy property queries read recommended register related reserved rights save
    schedule search session share sign signin site skip sponsorship subscribe support talk terms
    text third-party trademark twitter us version view warranties we website welcome
    you your""".split()
)
# Strong signals: one medical sentence almost never holds two of these.
LEGAL_WEB_WORDS = frozenset(
    """advertisement browser cookie cookies copyright copyrightlaw disclaimer endorsement login
    newsletter privacy sponsored sponsorship subscribe third-party trademark warranties website
    website/platform""".split()
)
HEADING_WORDS = frozenset(
    """abstract acknowledgement acknowledgements acknowledgment acknowledgments background
    bibliography case conclusion conclusions diagnosis discussion figure figures findings
    follow-up funding history introduction key keywords legends limitations management materials
    methods outcome presentation references report results summary table tables
    treatment words""".split()
)
REFERENCE_HEADINGS = frozenset(
    {"references", "bibliography", "literature cited", "works cited", "reference list", "notes"}
)
# Words that hold a sentence together; a run of words without them is a menu or a title.
FUNCTION_WORDS = frozenset(
    """a an the of in on at to for with and or but by from as is was were be been are had has
    have that which who whom this these than into after before during under over per via its
    his her their he she it they not no""".split()
)
# More navigation words, used only on text that lost its line breaks, where a run of them
# before a sentence is a menu ("Go to:", "Previous post", "Continue reading below"); with
# a page's links and formats ("Related links", "Article in xml format"), a blog's or a
# forum's posts ("Posted by", "Upvote 12 Reply") and the publication history ("Received:
# ...; Accepted: ...").
NAV_WORDS = CHROME_WORDS | frozenset(
    """accepted back collections comment comments continue go links metrics next permalink
    posted previous published reading received reply rss sections sponsored trending upvote
    xml""".split()
)

_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")


def words(line: str) -> list[str]:
    return [w.lower().strip("'’") for w in _WORD.findall(line)]


def is_heading_word(line: str) -> bool:
    """True for standard section headings ("Case presentation", "REFERENCES", "Figure 2")."""
    key = re.sub(r"^[\d.\s]+", "", line.strip().lower()).rstrip(":").strip()
    if re.fullmatch(r"(fig\.?|figure|table)\s*\d+[a-z]?", key):
        return True
    if key in REFERENCE_HEADINGS:
        return True
    parts = key.split()
    return 0 < len(parts) <= 4 and all(w in HEADING_WORDS for w in parts)
