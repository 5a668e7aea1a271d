"""Plain-text captures of case reports from web pages, with the sites' chrome around them.

Five fictional sites, each with its own chrome (navigation, cookie banners, sign-in,
share bars, newsletter prompts, related-article lists, breadcrumbs, footers, legal
lines), drawn with per-page variation: dates, counters and related titles change from
page to page, blocks are picked and ordered at random, and some chrome sits between or
inside the article's sections. Some captures have no blank lines at all and some are
hard-wrapped like a text-mode browser dump; a few articles hold short list items (lab
values, drugs, diagnoses) that are article text although they are not sentences.
The article text is kept apart, so a test knows exactly which lines are the article.
"""

from __future__ import annotations

import random
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

from web_articles import ARTICLES, Article

RELATED_POOL = [
    "Spontaneous splenic rupture in infectious mononucleosis",
    "An unusual cause of chronic cough in a non-smoker",
    "Recurrent syncope in a young athlete: when to worry",
    "Pitfalls in the diagnosis of giant cell arteritis",
    "A rash that would not go away",
    "Fever of unknown origin: a structured approach",
    "Five things to know about hyponatraemia",
    "Imaging the acute abdomen in older adults",
    "When the heart rate is too slow",
    "Hidden bleeding in the small bowel",
    "Complications of long-haul travel",
    "Drug-induced liver injury: a practical review",
    "Neurological presentations of systemic disease",
    "Eye emergencies for the general physician",
]
MONTHS = ["January", "March", "April", "June", "August", "October", "November"]


@dataclass
class Capture:
    name: str
    site: str
    text: str
    article: Article


def _date(rng: random.Random) -> str:
    return f"{rng.randint(1, 28)} {rng.choice(MONTHS)} {rng.randint(2016, 2024)}"


def _related(rng: random.Random, n: int) -> list[str]:
    return rng.sample(RELATED_POOL, n)


# Each site: (top, between sections, bottom) chrome as lists of blocks (lists of lines).
def medcase_hub(rng: random.Random, title: str) -> tuple[list, list, list]:
    top = [
        ["Skip to main content"],
        ["MedCase Hub", "Journals   Topics   Case Reports   Education   About"],
        ["Search", "Sign in | Register"],
        ["Home › Case Reports › " + rng.choice(["Infectious Disease", "Cardiology", "Surgery"])],
        [
            "We use cookies to personalise content and to analyse our traffic. By continuing "
            "to browse this site you agree to our use of cookies.",
            "Accept all   Manage preferences",
        ],
        [f"Published: {_date(rng)} | {rng.randint(200, 9000):,} views"],
    ]
    middle = [
        ["Share this article", "Facebook   Twitter   LinkedIn   Email"],
        ["Advertisement"],
    ]
    bottom = [
        ["Related articles", *_related(rng, 3)],
        ["Sign up for our newsletter to get the latest case reports in your inbox.", "Subscribe"],
        ["About us | Editorial policies | Contact | Accessibility"],
        ["© 2024 MedCase Hub Ltd. All rights reserved.", "Privacy Policy   Terms of Use"],
    ]
    return top, middle, bottom


def clinical_pearls(rng: random.Random, title: str) -> tuple[list, list, list]:
    author = rng.choice(["Dr A. Wright", "Dr P. Osei", "Dr M. Lindqvist"])
    top = [
        ["Menu"],
        ["Home / Blog / " + rng.choice(["Cardiology", "Neurology", "Gastroenterology"])],
        [f"Posted by {author} on {_date(rng)}", f"Reading time: {rng.randint(3, 9)} min"],
    ]
    middle = [
        [f"Join {rng.randint(5, 40)},000 clinicians who get our weekly digest.", "Your email"],
    ]
    bottom = [
        [
            "Tags: "
            + ", ".join(rng.sample(["cardiology", "infection", "imaging", "ECG", "rare"], 3))
        ],
        [f"Previous post: {_related(rng, 1)[0]}", f"Next post: {_related(rng, 1)[0]}"],
        [f"Comments ({rng.randint(0, 12)})", "Leave a comment"],
        ["Follow us on Instagram and YouTube"],
        ["Powered by WordPress | Theme by Pearl Studio"],
    ]
    return top, middle, bottom


def case_reports_daily(rng: random.Random, title: str) -> tuple[list, list, list]:
    top = [
        ["Log in", "Subscribe now for unlimited access"],
        ["News   Opinion   Case Reports   Podcasts   Jobs"],
        [f"By the CRD newsroom | Updated {_date(rng)}"],
        ["Print this page   Download PDF   Cite this article"],
    ]
    middle = [
        ["Advertisement", "Continue reading below"],
        ["Most read", *[f"{n}. {t}" for n, t in enumerate(_related(rng, 3), start=1)]],
    ]
    bottom = [
        ["This article is for educational purposes only and does not constitute medical advice."],
        ["Was this article helpful?   Yes   No"],
        [f"© {rng.randint(2019, 2024)} Case Reports Daily. All rights reserved."],
        ["Contact us   Advertise   Careers   Privacy   Cookie settings"],
    ]
    return top, middle, bottom


def invented_journal(rng: random.Random, title: str) -> tuple[list, list, list]:
    volume, issue = rng.randint(3, 30), rng.randint(1, 12)
    top = [
        ["Journal of Invented Clinical Cases", "Open Access"],
        [f"Volume {volume}, Issue {issue}", "Article"],
        ["Download PDF", "Metrics", f"Altmetric score {rng.randint(1, 99)}"],
        [
            f"Received: {_date(rng)}; Accepted: {_date(rng)}; Published: {_date(rng)}",
        ],
    ]
    middle = [["Figures and tables", "View all figures"]]
    bottom = [
        [
            f"Copyright © {rng.randint(2016, 2024)} The Authors. This is an open access "
            "article distributed under the terms of the Creative Commons Attribution License."
        ],
        ["Rights and permissions", "Reprints and permissions"],
        ["About this article", f"Cite this article: J Invent Clin Cases. {volume}({issue})."],
        ["Sections   Figures   References   Author information   Ethics declarations"],
    ]
    return top, middle, bottom


def health_forum(rng: random.Random, title: str) -> tuple[list, list, list]:
    top = [
        ["☰", "Back"],
        ["Get the app", "Open in app"],
        ["Home   Notifications   Messages   Profile"],
        [f"Trending now: {_related(rng, 1)[0]}"],
    ]
    middle = [["Sponsored"], [f"Upvote {rng.randint(3, 400)}   Reply   Share   Report this post"]]
    bottom = [
        ["You might also like", *_related(rng, 2)],
        [f"{rng.randint(2, 60)} answers · {rng.randint(1, 20)}k views"],
        ["Terms · Privacy · Cookies · Help centre"],
    ]
    return top, middle, bottom


SITES: dict[str, Callable[[random.Random, str], tuple[list, list, list]]] = {
    "medcasehub": medcase_hub,
    "clinicalpearls": clinical_pearls,
    "casereportsdaily": case_reports_daily,
    "inventedjournal": invented_journal,
    "healthforum": health_forum,
}


def _picked(rng: random.Random, blocks: list[list[str]], keep: float) -> list[list[str]]:
    """A random subset of a site's blocks (at least one), in a slightly shuffled order."""
    chosen = [b for b in blocks if rng.random() < keep] or [rng.choice(blocks)]
    if len(chosen) > 2 and rng.random() < 0.3:
        i = rng.randrange(len(chosen) - 1)
        chosen[i], chosen[i + 1] = chosen[i + 1], chosen[i]
    return chosen


def capture(
    article: Article, site: str, rng: random.Random, layout: str, sites: dict | None = None
) -> str:
    """One page's text: chrome, the article (title, headings, paragraphs) with chrome between
    and inside its sections, then more chrome.

    ``layout``: "blank" puts a blank line between blocks (a browser copy), "dense" none
    at all (another browser's copy), "wrapped" hard-wraps at 78 columns (a text browser).
    """
    title, sections = article
    top, middle, bottom = (sites or SITES)[site](rng, title)
    out: list[str] = []

    def block(lines: list[str]) -> None:
        out.extend(lines)
        if layout != "dense":
            out.append("")

    for b in _picked(rng, top, 0.8):
        block(b)
    block([title])
    for n, (heading, paragraphs) in enumerate(sections):
        block([heading])
        for k, p in enumerate(paragraphs):
            block(textwrap.wrap(p, 78, break_on_hyphens=False) if layout == "wrapped" else [p])
            if k == 0 and len(paragraphs) > 2 and rng.random() < 0.3:
                block(rng.choice(middle))  # an advert or a share bar inside a section
        if n < len(sections) - 1 and rng.random() < 0.5:
            block(rng.choice(middle))
    for b in _picked(rng, bottom, 0.8):
        block(b)
    return "\n".join(out)


def captures(seed: int = 11) -> list[Capture]:
    """Every article once, on sites taken in turn, in the three layouts taken in turn."""
    rng = random.Random(seed)
    names = list(SITES)
    layouts = ["blank", "dense", "blank", "wrapped"]
    out = []
    for n, article in enumerate(ARTICLES):
        site = names[n % len(names)]
        text = capture(article, site, rng, layouts[n % len(layouts)])
        out.append(Capture(f"{site}_{n:02d}.txt", site, text, article))
    return out


# Real sites' chrome, as their pages read when copied (PMC, BMC/Springer, SciELO).
def pmc(rng: random.Random, title: str) -> tuple[list, list, list]:
    pmcid, year = rng.randint(5_000_000, 9_999_999), rng.randint(2015, 2023)
    top = [
        ["Warning: The NCBI web site requires JavaScript to function. more..."],
        ["NCBI", "Skip to main content", "Skip to navigation", "Resources", "How To"],
        ["About NCBI Accesskeys", "My NCBI Sign in to NCBI Sign Out"],
        ["PMC", "US National Library of Medicine", "National Institutes of Health"],
        ["Search database", "PMC", "All Databases", "Search term", "Search"],
        ["Advanced Journal list Help", "Journal List", f"J Med Case Rep v.{rng.randint(9, 17)}"],
        [f"PMC{pmcid}", f"Published online {year} {rng.choice(MONTHS)[:3]} {rng.randint(1, 28)}."],
        ["Author information Article notes Copyright and License information Disclaimer"],
    ]
    middle = [["Go to:"]]
    bottom = [
        ["Articles from Journal of Medical Case Reports are provided here courtesy of BMC"],
        ["Other Formats", f"PDF ({rng.randint(200, 900)}K)", "Actions", "Cite", "Collections"],
        ["Add to Collections", "Create a new collection", "Add to an existing collection"],
        ["Share", "Facebook Twitter Google+", "Permalink", "Copy", "RESOURCES"],
        ["Similar articles", "Cited by other articles", "Links to NCBI Databases"],
        ["Follow NCBI", "Twitter Facebook LinkedIn GitHub", "Connect with NLM"],
        ["National Library of Medicine", "8600 Rockville Pike", "Bethesda, MD 20894"],
        ["Web Policies", "FOIA", "HHS Vulnerability Disclosure", "Help", "Accessibility"],
    ]
    return top, middle, bottom


def bmc(rng: random.Random, title: str) -> tuple[list, list, list]:
    top = [
        ["Skip to main content", "Advertisement"],
        ["Search", "Explore journals", "Get published", "About BMC", "My account"],
        ["Journal of Medical Case Reports", "Home About Articles Submission Guidelines"],
        ["Case report", "Open Access", f"Published: {_date(rng)}"],
        [
            f"{rng.randint(900, 9000)} Accesses",
            f"{rng.randint(1, 30)} Citations",
            "Metrics details",
        ],
    ]
    middle = [["Advertisement"]]
    bottom = [
        [
            "Publisher's Note",
            "Springer Nature remains neutral with regard to jurisdictional "
            "claims in published maps and institutional affiliations.",
        ],
        ["Rights and permissions", "Reprints and permissions", "About this article"],
        ["Cite this article", "Download citation", f"Received: {_date(rng)}", "Share this article"],
        [
            "Anyone you share the following link with will be able to read this content:",
            "Get shareable link",
            "Copy to clipboard",
        ],
        ["Provided by the Springer Nature SharedIt content-sharing initiative"],
        ["Download PDF", "Sections", "Figures", "References"],
        [
            "Contact us",
            "Read more on our blogs",
            "Receive BMC newsletters",
            "Manage article alerts",
        ],
        [
            "By using this website, you agree to our Terms and Conditions, Your US state privacy "
            "rights, Privacy statement and Cookies policy. Your privacy choices/Manage cookies we "
            "use in the preference centre."
        ],
        [
            f"© {rng.randint(2019, 2024)} BioMed Central Ltd unless otherwise stated. Part of "
            "Springer Nature."
        ],
    ]
    return top, middle, bottom


def scielo(rng: random.Random, title: str) -> tuple[list, list, list]:
    top = [
        ["SciELO - Scientific Electronic Library Online"],
        ["Services on Demand", "Journal", "SciELO Analytics", "Google Scholar H5M5"],
        ["Article", "Portuguese (pdf)", "Article in xml format", "How to cite this article"],
        ["SciELO Analytics", "Automatic translation", "Indicators", "Related links"],
        ["Share", "More", "Permalink"],
        [f"Rev. Bras. Reumatol. vol.{rng.randint(50, 60)} no.{rng.randint(1, 6)} São Paulo"],
    ]
    middle = [["Print version ISSN 0482-5004 On-line version ISSN 1809-4570"]]
    bottom = [
        [f"Received: {_date(rng)}; Accepted: {_date(rng)}"],
        [
            "This is an Open Access article distributed under the terms of the Creative "
            "Commons Attribution License, which permits unrestricted use, distribution, and "
            "reproduction in any medium, provided the original work is properly cited."
        ],
        [
            "Av. Brigadeiro Luís Antônio, 278, 6º andar",
            "01318-901 São Paulo SP - Brazil",
            "Tel.: (55 11) 3289-7165",
        ],
    ]
    return top, middle, bottom


REAL_SITES = {"pmc": pmc, "bmc": bmc, "scielo": scielo}
SHAPES = ("page", "paragraph", "wrapped")


def flatten(text: str, shape: str, rng: random.Random) -> str:
    """A capture with its line breaks lost: one line per page, one line per paragraph (a
    run of chrome joined with the text after it), or one line per page hard-wrapped."""
    blocks = (
        [" ".join(b.split("\n")) for b in text.split("\n\n")]
        if "\n\n" in text
        else [line for line in text.split("\n")]
    )
    blocks = [b.strip() for b in blocks if b.strip()]
    if shape == "page":
        return " ".join(blocks)
    if shape == "wrapped":
        return "\n".join(textwrap.wrap(" ".join(blocks), 78, break_on_hyphens=False))
    out: list[str] = []
    for b in blocks:
        if out and rng.random() < 0.5:
            out[-1] += " " + b
        else:
            out.append(b)
    return "\n".join(out)


def flattened_captures(seed: int = 5) -> list[Capture]:
    """Every article on a real site, and ten longer ones (two articles' sections under
    one title) on the fictional sites, in the three flattened shapes taken in turn so
    that every site comes in every shape.

    The longer ones repeat articles that the real sites' captures hold: index them apart
    (``on_real_site``), as two corpora; in one, their shared sentences would rightly be
    taken for lines repeated across documents, or for one article saved twice.
    """
    rng = random.Random(seed)
    sites = {**REAL_SITES, **SITES}
    jobs = [(article, list(REAL_SITES)[n % 3]) for n, article in enumerate(ARTICLES)]
    for n in range(10):
        (title, first), (_, second) = ARTICLES[n], ARTICLES[n + 11]
        jobs.append(((title, first + second), list(SITES)[n % 5]))
    out = []
    for n, (article, site) in enumerate(jobs):
        shape = SHAPES[(n + n // 3) % 3]
        text = flatten(capture(article, site, rng, "blank", sites), shape, rng)
        out.append(Capture(f"{site}_{shape}_{n:02d}.txt", site, text, article))
    return out


def on_real_site(cap: Capture) -> bool:
    return cap.site in REAL_SITES
