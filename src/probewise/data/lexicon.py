"""Word lists for the built-in diagnostic tasks, with every inflection written out by hand.

Nouns are `(singular, plural)` pairs; verbs are `(base, third_singular, past, past_participle)` tuples.
No word form appears in two lists where that could blur a label (a verb form that is also a noun, a past
form that is also a present form); `tests/data/test_tasks.py` checks this.

Example:
    >>> from probewise.data.lexicon import ANIMALS, TRANSITIVE_ANIMATE
    >>> ANIMALS[0], TRANSITIVE_ANIMATE[0]
    (('dog', 'dogs'), ('chase', 'chases', 'chased', 'chased'))
"""

from __future__ import annotations

Noun = tuple[str, str]
Verb = tuple[str, str, str, str]


def _regular_nouns(words: str) -> tuple[Noun, ...]:
    """Nouns whose plural is the singular plus `s`; the others are written out in pairs."""
    return tuple((w, w + "s") for w in words.split())


PEOPLE: tuple[Noun, ...] = _regular_nouns(
    "teacher farmer doctor student baker painter sailor soldier writer singer dancer driver lawyer clerk "
    "hunter miner plumber poet tailor waiter actor artist banker builder butcher carpenter chef dentist "
    "engineer gardener janitor librarian mechanic merchant musician neighbor officer pianist reporter "
    "scientist shepherd surgeon tourist traveler visitor worker boy girl king queen friend sister brother "
    "cousin uncle aunt guest customer stranger ranger farmhand grandmother grandfather"
) + (
    ("child", "children"), ("woman", "women"), ("man", "men"), ("person", "people"),
    ("fisherman", "fishermen"), ("policeman", "policemen"), ("thief", "thieves"), ("princess", "princesses"),
    ("nanny", "nannies"), ("lady", "ladies"), ("baby", "babies"), ("boss", "bosses"),
    ("witness", "witnesses"), ("wife", "wives"), ("actress", "actresses"), ("deputy", "deputies"),
)

ANIMALS: tuple[Noun, ...] = _regular_nouns(
    "dog cat horse cow goat pig hen owl eagle hawk snake frog monkey donkey mule camel zebra giraffe "
    "elephant squirrel rat bee ant spider beetle parrot pigeon swan whale shark dolphin otter beaver lion "
    "tiger rabbit lamb kitten sparrow falcon lizard turtle crab hamster raccoon chicken rooster gorilla "
    "kangaroo panda leopard cheetah"
) + (
    ("mouse", "mice"), ("goose", "geese"), ("fox", "foxes"), ("wolf", "wolves"), ("ox", "oxen"),
    ("calf", "calves"), ("puppy", "puppies"), ("pony", "ponies"), ("turkey", "turkeys"),
    ("ostrich", "ostriches"), ("moth", "moths"),
)

OBJECTS: tuple[Noun, ...] = _regular_nouns(
    "notebook lamp chair table key letter cup bottle basket bag ball bucket candle coat blanket bicycle "
    "wagon ladder hammer rope map clock window door fence gate plate bowl spoon shoe hat kite drum violin "
    "guitar photo jar pencil tent boat truck barrel wheel apple toy suitcase umbrella"
) + (
    ("box", "boxes"), ("knife", "knives"), ("glass", "glasses"), ("dress", "dresses"), ("brush", "brushes"),
    ("shelf", "shelves"), ("loaf", "loaves"), ("sandwich", "sandwiches"), ("radio", "radios"),
    ("piano", "pianos"),
)

PLACES: tuple[str, ...] = tuple(
    "park garden barn kitchen library church school bridge harbor forest village hill field lake river "
    "market station square hall stable cottage meadow orchard valley beach farm museum hospital bakery "
    "office yard playground castle tower cave pond shop cafe theater stadium".split()
)

# Verbs whose object is a person or an animal; both directions make sense ("the farmer chased the goat",
# "the goat chased the farmer").
TRANSITIVE_ANIMATE: tuple[Verb, ...] = (
    ("chase", "chases", "chased", "chased"), ("follow", "follows", "followed", "followed"),
    ("watch", "watches", "watched", "watched"), ("push", "pushes", "pushed", "pushed"),
    ("pull", "pulls", "pulled", "pulled"), ("kick", "kicks", "kicked", "kicked"),
    ("scare", "scares", "scared", "scared"), ("frighten", "frightens", "frightened", "frightened"),
    ("startle", "startles", "startled", "startled"), ("notice", "notices", "noticed", "noticed"),
    ("ignore", "ignores", "ignored", "ignored"), ("approach", "approaches", "approached", "approached"),
    ("attack", "attacks", "attacked", "attacked"), ("nudge", "nudges", "nudged", "nudged"),
    ("poke", "pokes", "poked", "poked"), ("sniff", "sniffs", "sniffed", "sniffed"),
    ("bother", "bothers", "bothered", "bothered"), ("annoy", "annoys", "annoyed", "annoyed"),
    ("tease", "teases", "teased", "teased"), ("distract", "distracts", "distracted", "distracted"),
    ("comfort", "comforts", "comforted", "comforted"), ("trust", "trusts", "trusted", "trusted"),
    ("fear", "fears", "feared", "feared"), ("avoid", "avoids", "avoided", "avoided"),
    ("greet", "greets", "greeted", "greeted"), ("surprise", "surprises", "surprised", "surprised"),
    ("protect", "protects", "protected", "protected"), ("lick", "licks", "licked", "licked"),
    ("scratch", "scratches", "scratched", "scratched"), ("touch", "touches", "touched", "touched"),
    ("rescue", "rescues", "rescued", "rescued"), ("track", "tracks", "tracked", "tracked"),
    ("amuse", "amuses", "amused", "amused"),
    ("see", "sees", "saw", "seen"), ("hear", "hears", "heard", "heard"), ("find", "finds", "found", "found"),
    ("lead", "leads", "led", "led"), ("wake", "wakes", "woke", "woken"),
    ("fight", "fights", "fought", "fought"), ("bite", "bites", "bit", "bitten"),
    ("catch", "catches", "caught", "caught"),
    ("seek", "seeks", "sought", "sought"), ("hold", "holds", "held", "held"), ("meet", "meets", "met", "met"),
    ("hug", "hugs", "hugged", "hugged"), ("spot", "spots", "spotted", "spotted"),
)

# Verbs whose object is a thing ("the clerk opened the box").
TRANSITIVE_OBJECT: tuple[Verb, ...] = (
    ("open", "opens", "opened", "opened"), ("lift", "lifts", "lifted", "lifted"),
    ("move", "moves", "moved", "moved"), ("wash", "washes", "washed", "washed"),
    ("clean", "cleans", "cleaned", "cleaned"), ("fix", "fixes", "fixed", "fixed"),
    ("paint", "paints", "painted", "painted"), ("fill", "fills", "filled", "filled"),
    ("borrow", "borrows", "borrowed", "borrowed"), ("pack", "packs", "packed", "packed"),
    ("polish", "polishes", "polished", "polished"), ("repair", "repairs", "repaired", "repaired"),
    ("check", "checks", "checked", "checked"), ("count", "counts", "counted", "counted"),
    ("weigh", "weighs", "weighed", "weighed"), ("inspect", "inspects", "inspected", "inspected"),
    ("deliver", "delivers", "delivered", "delivered"), ("spill", "spills", "spilled", "spilled"),
    ("fold", "folds", "folded", "folded"), ("carve", "carves", "carved", "carved"),
    ("carry", "carries", "carried", "carried"), ("drop", "drops", "dropped", "dropped"),
    ("close", "closes", "closed", "closed"), ("build", "builds", "built", "built"),
    ("break", "breaks", "broke", "broken"), ("buy", "buys", "bought", "bought"),
    ("sell", "sells", "sold", "sold"), ("bring", "brings", "brought", "brought"),
    ("take", "takes", "took", "taken"), ("steal", "steals", "stole", "stolen"),
    ("hide", "hides", "hid", "hidden"), ("throw", "throws", "threw", "thrown"),
    ("lend", "lends", "lent", "lent"), ("send", "sends", "sent", "sent"), ("keep", "keeps", "kept", "kept"),
    ("lose", "loses", "lost", "lost"), ("drag", "drags", "dragged", "dragged"),
    ("choose", "chooses", "chose", "chosen"), ("grab", "grabs", "grabbed", "grabbed"),
    ("shake", "shakes", "shook", "shaken"), ("wrap", "wraps", "wrapped", "wrapped"),
    ("sweep", "sweeps", "swept", "swept"), ("bend", "bends", "bent", "bent"),
    ("hang", "hangs", "hung", "hung"), ("dig", "digs", "dug", "dug"),
)

INTRANSITIVE: tuple[Verb, ...] = (
    ("laugh", "laughs", "laughed", "laughed"), ("smile", "smiles", "smiled", "smiled"),
    ("wait", "waits", "waited", "waited"), ("walk", "walks", "walked", "walked"),
    ("jump", "jumps", "jumped", "jumped"), ("dance", "dances", "danced", "danced"),
    ("rest", "rests", "rested", "rested"), ("shout", "shouts", "shouted", "shouted"),
    ("arrive", "arrives", "arrived", "arrived"), ("wander", "wanders", "wandered", "wandered"),
    ("play", "plays", "played", "played"), ("work", "works", "worked", "worked"),
    ("listen", "listens", "listened", "listened"), ("whistle", "whistles", "whistled", "whistled"),
    ("yawn", "yawns", "yawned", "yawned"), ("sneeze", "sneezes", "sneezed", "sneezed"),
    ("shiver", "shivers", "shivered", "shivered"), ("wave", "waves", "waved", "waved"),
    ("climb", "climbs", "climbed", "climbed"), ("pause", "pauses", "paused", "paused"),
    ("frown", "frowns", "frowned", "frowned"), ("sigh", "sighs", "sighed", "sighed"),
    ("blink", "blinks", "blinked", "blinked"), ("stretch", "stretches", "stretched", "stretched"),
    ("return", "returns", "returned", "returned"),
    ("sleep", "sleeps", "slept", "slept"), ("run", "runs", "ran", "run"), ("sit", "sits", "sat", "sat"),
    ("stand", "stands", "stood", "stood"), ("swim", "swims", "swam", "swum"),
    ("sing", "sings", "sang", "sung"), ("cry", "cries", "cried", "cried"),
    ("fall", "falls", "fell", "fallen"), ("leave", "leaves", "left", "left"),
    ("hurry", "hurries", "hurried", "hurried"), ("kneel", "kneels", "knelt", "knelt"),
    ("fly", "flies", "flew", "flown"), ("creep", "creeps", "crept", "crept"),
    ("speak", "speaks", "spoke", "spoken"), ("hum", "hums", "hummed", "hummed"),
    ("nap", "naps", "napped", "napped"), ("rise", "rises", "rose", "risen"),
    ("sink", "sinks", "sank", "sunk"), ("swing", "swings", "swung", "swung"),
)

# Sentiment lexicon: evaluative adjectives and experiencer verbs ("loved", "hated").
POSITIVE_ADJECTIVES: tuple[str, ...] = tuple(
    "wonderful excellent delightful superb brilliant charming lovely fantastic marvelous splendid terrific "
    "pleasant enjoyable impressive outstanding remarkable beautiful elegant gorgeous stunning inspiring "
    "uplifting heartwarming refreshing satisfying admirable magnificent exquisite fabulous glorious amazing "
    "great perfect joyful cheerful friendly generous thoughtful exciting thrilling wholesome dazzling "
    "flawless sublime".split()
)
NEGATIVE_ADJECTIVES: tuple[str, ...] = tuple(
    "awful terrible horrible dreadful dismal miserable disappointing boring dull tedious ugly unpleasant "
    "annoying irritating frustrating depressing painful mediocre poor bad lousy pathetic shoddy sloppy "
    "clumsy rude hostile nasty gloomy bleak disgusting revolting offensive tiresome useless worthless "
    "unreliable unfriendly stale bland confusing chaotic atrocious dreary".split()
)
POSITIVE_VERBS: tuple[Verb, ...] = (
    ("love", "loves", "loved", "loved"), ("adore", "adores", "adored", "adored"),
    ("enjoy", "enjoys", "enjoyed", "enjoyed"), ("admire", "admires", "admired", "admired"),
    ("praise", "praises", "praised", "praised"), ("cherish", "cherishes", "cherished", "cherished"),
    ("appreciate", "appreciates", "appreciated", "appreciated"), ("like", "likes", "liked", "liked"),
    ("treasure", "treasures", "treasured", "treasured"),
    ("celebrate", "celebrates", "celebrated", "celebrated"),
    ("recommend", "recommends", "recommended", "recommended"),
    ("applaud", "applauds", "applauded", "applauded"), ("relish", "relishes", "relished", "relished"),
    ("savor", "savors", "savored", "savored"), ("value", "values", "valued", "valued"),
    ("welcome", "welcomes", "welcomed", "welcomed"),
)
NEGATIVE_VERBS: tuple[Verb, ...] = (
    ("hate", "hates", "hated", "hated"), ("despise", "despises", "despised", "despised"),
    ("loathe", "loathes", "loathed", "loathed"), ("dislike", "dislikes", "disliked", "disliked"),
    ("detest", "detests", "detested", "detested"), ("resent", "resents", "resented", "resented"),
    ("dread", "dreads", "dreaded", "dreaded"), ("criticize", "criticizes", "criticized", "criticized"),
    ("condemn", "condemns", "condemned", "condemned"), ("mock", "mocks", "mocked", "mocked"),
    ("scorn", "scorns", "scorned", "scorned"), ("deplore", "deplores", "deplored", "deplored"),
    ("ridicule", "ridicules", "ridiculed", "ridiculed"), ("lament", "laments", "lamented", "lamented"),
    ("regret", "regrets", "regretted", "regretted"), ("abhor", "abhors", "abhorred", "abhorred"),
)

# Things people have opinions about; the frames around them are neutral.
REVIEW_TARGETS: tuple[Noun, ...] = _regular_nouns(
    "movie film book meal concert hotel trip show game lecture song album dinner restaurant bistro course "
    "novel performance exhibit festival tour flight room menu soup coffee apartment car phone sequel "
    "podcast recipe gadget lesson seminar workshop musical opera ballet tournament breakfast cake pizza "
    "concerto hike cruise"
) + (
    ("party", "parties"), ("class", "classes"), ("speech", "speeches"), ("story", "stories"),
    ("documentary", "documentaries"), ("lunch", "lunches"), ("match", "matches"),
)
REVIEW_MODIFIERS: tuple[str, ...] = tuple(
    "new local latest first second annual recent last weekly nearby small large".split()
)

ANIMATE_ADJECTIVES: tuple[str, ...] = tuple(
    "old young little small big tall quiet sleepy hungry tired curious busy nervous clever".split()
)
OBJECT_ADJECTIVES: tuple[str, ...] = tuple(
    "small large old new red blue green yellow wooden heavy empty round plastic metal".split()
)
ADVERBS: tuple[str, ...] = tuple(
    "quietly slowly quickly carefully suddenly eagerly calmly again early twice silently gently briefly "
    "nervously".split()
)
# Time phrases that fit both past and present ("slept at night", "sleeps at night").
TIME_PHRASES: tuple[str, ...] = (
    "in the morning", "at night", "after lunch", "before dinner", "at noon", "in the evening", "at dawn",
    "on weekends", "after school", "every day",
)
PREPOSITIONS: tuple[str, ...] = ("near", "behind", "beside", "outside", "around")
# Number-neutral determiners ("the dog", "the dogs"), repeated to weight "the".
DETERMINERS: tuple[str, ...] = ("the", "the", "the", "the", "my", "our", "your", "his", "her", "their")
MODALS: tuple[str, ...] = ("will", "would", "can", "could", "might", "should", "must", "may")
NEGATED_MODALS: dict[str, tuple[str, ...]] = {
    "will": ("will not", "won't"), "would": ("would not", "wouldn't"), "can": ("cannot", "can't"),
    "could": ("could not", "couldn't"), "might": ("might not",), "should": ("should not", "shouldn't"),
    "must": ("must not", "mustn't"), "may": ("may not",),
}
FREQUENCY_ADVERBS: tuple[str, ...] = ("always", "often", "sometimes", "usually")
SUBORDINATORS: tuple[str, ...] = ("because", "while", "after", "before", "when", "although")
