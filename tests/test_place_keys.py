"""Place keys across scripts: what a word must be to take a place's key (see :mod:`alerts.gazetteer`).

Every word here is written for the test; the places are CLDR's (babel).
"""

from __future__ import annotations

import pytest
from wirewatch.alerts.textkeys import Analyser


def places(text: str) -> set[str]:
    return {k for k in Analyser.default().analyse(text).keys if k[0] == "@"}


@pytest.mark.parametrize(("text", "key"), [
    ("Talks\nThe envoys flew from Russia to Armenia.", "@russia"),
    ("Talks\nRussian and Turkish envoys met.", "@turkii"),
    ("Переговоры\nДелегация России прибыла.", "@russia"),  # a Cyrillic genitive
    ("Danışıqlar\nNümayəndələr Ermənistanı tərk etdi.", "@armeni"),  # an Azerbaijani ending
    ("Բանակցություններ\nՊատվիրակները Հայաստանի մայրաքաղաքում էին։", "@armeni"),
    ("Entretiens\nLe négociateur malaisien est arrivé.", "@malais"),  # an adjective in lower case, a long stem
    ("محادثات\nوصل الوفد وإسرائيل", "@israel"),  # a clitic written onto the name
    ("การเจรจา\nผู้แทนกัมพูชาพบกัน", "@kambod"),  # found as written inside a run without spaces
])
def test_a_place_is_found_in_its_own_script_inflected(text: str, key: str) -> None:
    assert key in places(text)


@pytest.mark.parametrize(("text", "wrong"), [
    ("Talks\nThe parties agreed to a truce.", {"@pert", "@khuuk"}),  # common words, lower case
    ("Բանակցություններ\nՆախարարը ժամանեց։", {"@harare"}),  # na + harar: no prefix outside Arabic and Hebrew
    ("Müzakirələr\nMr Kılıç spoke at the border.", {"@khile"}),  # respelled like Çili, not written like it
    ("การเจรจา\nผู้แทนจากอเมริกาพบกัน", {"@riga"}),  # a syllable of a longer word (America)
    ("Gespräche\nDie Kämpfe gingen weiter.", {"@gambia"}),  # a stem of another script's name
])
def test_a_common_word_takes_no_place_key(text: str, wrong: set[str]) -> None:
    assert not places(text) & wrong
