"""Closed word lists the quality rules rely on, per language. Small, hand-written, no data files.

Korean is written in eojeol (whitespace words) that end in particles and verb endings, so Korean "stop words" are
the final syllables of those endings, not whole words; English stop words are whole words.
"""

from __future__ import annotations

# Gopher's English stop words (Rae et al. 2021): a real English document of 50+ words uses them constantly.
EN_STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")

# English function words, left out when looking for a keyword that is repeated to stuff a page.
EN_FUNCTION_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of
    off on once only or other our ours ourselves out over own same shall she should so some such than that the
    their theirs them themselves then there these they this those through thus to too under until unto up upon us
    very was we were what when where which while who whom why will with would ye yet you your yours yourself
    thee thou thy hath doth""".split()
)

# Final syllables of Korean particles (조사) and verb endings (어미) as they close an eojeol: 은/는/이/가 (topic,
# subject), 을/를 (object), 의 (of), 에/에서/로/와/과/도/만/께/게/터/지 (case and delimiters), 다/요/까/니/네/죠
# (sentence endings), 고/며/면/서/데/든/던/록/듯/라/야/나/여/어/아/해 (connective endings), 한/된/할/될/인
# (adnominal forms), 적/들 (suffixes -jeok, plural). Measured share of eojeol ending in one of them (50+ words):
# ko_petitions median 0.74 (1st percentile 0.46), ko_court_precedents 0.66 (0.44), ko_laws 0.58 (min 0.26).
KO_ENDING_SYLLABLES = frozenset("은는이가을를의에서로와과도만께게터지다요까니네죠고며면데든던한된할될인해여어아록듯라야나적들")

# Syllables that only ever close a word (particles, tense infixes): real text almost never starts an eojeol with
# them (measured: at most 0.15% of eojeol in every Korean corpus here, spacing mistakes included), random syllables
# do about 6% of the time even when drawn with real frequencies.
KO_SUFFIX_ONLY_SYLLABLES = frozenset("는를을었았겠며였")

# Sentence-final syllables of Korean: 다/요/까/죠 (declarative, polite, question) and the nominal endings 음/함/임/됨
# that close items in official and legal style. Korean often ends a sentence with them and no period (older court
# decisions never use one), so for Korean a line ending in one of them ends a sentence.
KO_FINAL_SYLLABLES = frozenset("다요까죠음함임됨")

# Korean function eojeol, left out when looking for a stuffed keyword.
KO_FUNCTION_WORDS = frozenset(
    "및 등 수 그 이 것 또는 그리고 하는 있는 한다 있다 위한 대한 따라 의한 같은 통해 하여 또한 그러나 이러한 그런 있다. 한다. "
    "것이다. 것을 것은 것이 할 한 된 될 있을 없는 없다. 이 그 저 제 우리 저는 너무 정말 더 안 못 잘".split()
)

# The classic filler vocabulary (Cicero, De finibus, as mangled by typesetters).
LOREM_WORDS = frozenset(
    """lorem ipsum dolor sit amet consectetur consectetuer adipiscing adipisicing elit sed do eiusmod tempor
    incididunt ut labore et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi
    aliquip ex ea commodo consequat duis aute irure reprehenderit voluptate velit esse cillum fugiat nulla pariatur
    excepteur sint occaecat cupidatat non proident sunt culpa qui officia deserunt mollit anim id est laborum
    curabitur pretium tincidunt lacus gravida orci odio nullam varius turpis pharetra eros bibendum nec luctus felis
    sollicitudin mauris integer eu nibh euismod ac tellus risus vulputate vehicula donec lobortis etiam ullamcorper
    ligula congue sapien quam maecenas fermentum mi pellentesque malesuada sem aliquet eget neque aliquam faucibus
    dictum nisl diam erat cras mollis scelerisque nunc arcu augue dapibus laoreet aenean molestie feugiat hac
    habitasse platea dictumst vestibulum ante primis faucibus ultrices posuere cubilia curae suspendisse potenti
    morbi fusce vitae justo phasellus viverra nam libero tempus nisi vivamus elementum semper nunc quisque rutrum
    porta tortor praesent blandit""".split()
)
