"""Word lists the request grammar draws from.

`CONTACT_NAMES` are the training contacts. `RARE_CONTACT_NAMES` never occur in any training,
dev or held-out-test sentence of the grammar except the `rare_names` test split: issue 4 uses them
for context biasing (a recognizer that has never heard them, given them as a hot-word list).
All words are lower case a-z and apostrophes, so every character is in the model's alphabet.
"""

FIRST_NAMES = """
aaron abigail adam adrian alan albert alex alexander alice alicia amanda amber amelia amy andrea
andrew angela anna anne anthony antonio arthur ashley audrey austin barbara ben benjamin beth
betty bill billy bob bonnie brad brandon brenda brian brittany bruce bryan caleb carl carlos
carol caroline carter catherine charles charlie charlotte chloe chris christina christopher cindy
claire clara colin connor craig cynthia daisy dan daniel danny david dean deborah dennis derek
diana diane donald donna doris dorothy dylan eddie edward eleanor elena eli elizabeth ella ellen
emily emma eric erica ethan eva evan evelyn felix fiona frank gabriel gary george gina grace greg
hannah harold harry heather helen henry holly ian isaac isabel jack jacob jake james jane janet
jason jean jeff jennifer jeremy jessica jill jim joan joe joel john jonathan jordan jose joseph
joshua joy judy julia julie justin karen kate katie keith kelly ken kevin kim kyle laura lauren
leah lee leo leon liam lily linda lisa logan louis lucas lucy luke lydia madison maria marie
mark martha martin mary mason matt matthew max megan melissa mia michael michelle mike molly
monica nancy natalie nathan nick nicole noah nora olivia oscar owen pam patrick paul paula peter
philip rachel ralph rebecca richard rick rita rob robert robin roger ron rose ruby russell ruth
ryan sam samantha sandra sara sarah scott sean sharon simon sophia sophie stella stephen steve
susan tara teresa thomas tim tina todd tom tony tyler vanessa victor victoria vincent walter
wayne wendy william zach zoe
""".split()

SURNAMES = """
adams allen anderson baker bell brooks brown campbell carter clark collins cook cooper davis
edwards evans fisher foster garcia gray green hall harris hill howard hughes jackson james
johnson jones kelly king lee lewis lopez martin miller mitchell moore morgan morris murphy
nelson parker perez phillips reed roberts robinson rogers ross russell sanders scott smith
stewart taylor thomas thompson turner walker ward watson white williams wilson wood wright young
""".split()

FAMILY = """mom dad mum grandma grandpa granny my wife my husband my sister my brother my son
my daughter auntie uncle""".split("\n")
FAMILY = ["mom", "dad", "grandma", "grandpa", "my wife", "my husband", "my sister", "my brother",
          "my son", "my daughter", "auntie", "uncle joe", "the office", "the doctor", "my boss"]

CONTACT_NAMES = FIRST_NAMES

RARE_CONTACT_NAMES = """
anneliese bartholomew cassius dagny eulalia fenella gwendolyn horatio ignatius jolyon kasimir
leocadia maximilian nerys octavian perpetua quillon rosalind saoirse thaddeus ulrika valentina
wilhelmina xanthe yevgeny zebulon aurelio blodwen cosima demetrius evander florentyna godfrey
hyacinth isolde jethro keturah lysander marguerite niamh ottilie percival
""".split()

ROOMS = """kitchen bedroom living room bathroom hallway garage office dining room basement attic
nursery porch garden guest room laundry room""".replace("\n", " ").split(" ")
ROOMS = ["kitchen", "bedroom", "living room", "bathroom", "hallway", "garage", "office",
         "dining room", "basement", "attic", "nursery", "porch", "garden", "guest room",
         "laundry room", "study", "den", "patio", "upstairs", "downstairs"]

DEVICES = ["lights", "light", "lamp", "fan", "heater", "air conditioner", "television", "tv",
           "speaker", "radio", "coffee maker", "dishwasher", "washing machine", "dryer", "oven",
           "kettle", "fireplace", "sprinklers", "blinds", "curtains", "garage door", "front door lock",
           "vacuum", "humidifier", "purifier", "camera", "alarm system", "ceiling fan",
           "night light", "porch light", "printer", "computer"]

COLORS = ["red", "blue", "green", "yellow", "orange", "purple", "pink", "white", "warm white",
          "cool white", "teal", "violet", "gold", "amber"]

CITIES = """london paris berlin madrid rome tokyo sydney boston chicago denver seattle toronto
dallas houston miami atlanta phoenix portland austin detroit dublin edinburgh glasgow manchester
liverpool amsterdam brussels vienna prague warsaw oslo stockholm helsinki copenhagen lisbon
barcelona munich zurich geneva milan naples athens cairo nairobi lagos mumbai delhi bangkok
singapore seoul beijing shanghai melbourne auckland vancouver montreal ottawa calgary
""".split() + ["new york", "los angeles", "san francisco", "las vegas", "new orleans",
               "hong kong", "mexico city", "buenos aires", "cape town", "rio de janeiro"]

ARTISTS = ["the beatles", "taylor swift", "adele", "queen", "coldplay", "bob dylan", "miles davis",
           "beyonce", "drake", "elton john", "madonna", "prince", "the rolling stones", "pink floyd",
           "david bowie", "frank sinatra", "nina simone", "ed sheeran", "billie eilish", "abba",
           "metallica", "nirvana", "radiohead", "u two", "johnny cash", "dolly parton",
           "stevie wonder", "whitney houston", "michael jackson", "bruno mars", "lady gaga",
           "the killers", "daft punk", "norah jones", "louis armstrong", "ella fitzgerald",
           "bach", "mozart", "beethoven", "chopin", "vivaldi", "the eagles", "fleetwood mac",
           "the cure", "oasis", "blur", "sade", "shakira", "rihanna", "eminem"]

GENRES = ["jazz", "rock", "pop", "classical", "country", "blues", "hip hop", "reggae", "folk",
          "soul", "funk", "disco", "metal", "punk", "techno", "house", "ambient", "lo fi",
          "indie", "gospel", "opera", "latin", "salsa", "swing", "bluegrass", "electronic"]

PLAYLISTS = ["morning coffee", "workout", "dinner party", "road trip", "focus", "sleep", "chill",
             "summer hits", "rainy day", "party", "study", "relax", "running", "cooking",
             "sunday morning", "throwback", "top hits", "good vibes", "acoustic", "deep focus"]

RADIO = ["the news", "the radio", "a podcast", "the weather report", "an audiobook",
         "the latest episode", "white noise", "rain sounds", "ocean waves", "a bedtime story"]

SHOPPING = """milk eggs bread butter cheese apples bananas oranges grapes lemons potatoes onions
garlic tomatoes carrots lettuce spinach rice pasta flour sugar salt pepper coffee tea juice
yogurt chicken beef fish salmon bacon sausages cereal honey jam peanut butter soap shampoo
toothpaste batteries napkins tissues detergent sponges candles diapers chocolate cookies crackers
chips popcorn olive oil vinegar ketchup mustard mayonnaise avocados mushrooms cucumbers peppers
beans lentils oats almonds walnuts water ice cream pizza""".split()

EVENTS = ["meeting", "dentist appointment", "doctor appointment", "lunch", "dinner", "call",
          "haircut", "yoga class", "soccer practice", "piano lesson", "team meeting",
          "birthday party", "flight", "interview", "review", "date night", "book club",
          "parent teacher conference", "gym session", "standup"]

DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
        "today", "tomorrow", "tonight", "this weekend", "next week", "this afternoon",
        "this evening", "tomorrow morning", "next monday", "next friday"]

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]

ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
            "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth",
            "seventeenth", "eighteenth", "nineteenth", "twentieth", "twenty first",
            "twenty second", "twenty third", "twenty fourth", "twenty fifth", "twenty sixth",
            "twenty seventh", "twenty eighth", "twenty ninth", "thirtieth", "thirty first"]

MESSAGES = ["i'm running late", "i'll be home soon", "call me back", "see you tonight",
            "happy birthday", "i love you", "dinner is ready", "on my way", "don't forget the milk",
            "the meeting is cancelled", "can you pick up the kids", "thanks for everything",
            "i'm stuck in traffic", "let's meet at noon", "good luck today", "i miss you",
            "where are you", "what time is the game", "bring an umbrella", "i'll call you later",
            "the package arrived", "are we still on for lunch", "sorry i missed your call",
            "congratulations", "have a safe flight", "feel better soon", "the door is unlocked"]

QUESTIONS = ["what time is it", "what's the date today", "what day is it", "how are you",
             "who are you", "what can you do", "tell me a joke", "tell me a fun fact",
             "how far is the moon", "how tall is mount everest", "what's the capital of france",
             "who wrote hamlet", "how many days until christmas", "what's the news",
             "how do you spell necessary", "what's the traffic like", "when is sunset",
             "when is sunrise", "how long is my commute", "what's on my calendar",
             "what's my next appointment", "do i have any messages", "read my messages",
             "what's on my shopping list", "is it going to rain", "what's the temperature inside",
             "how much is ten dollars in euros", "what's twelve times seven",
             "how many ounces in a pound", "how many cups in a liter", "who won the game last night",
             "what's the score", "what song is this", "who sings this song",
             "what's the battery level", "where is my phone", "find my keys",
             "what's a good recipe for pancakes", "how do i boil an egg", "define serendipity",
             "what's the meaning of life", "is the front door locked", "are the lights on",
             "is the oven off", "how much rain did we get", "what is the air quality",
             "how windy is it outside", "what's the humidity"]

SHORT_COMMANDS = ["stop", "pause", "resume", "play", "next", "skip", "previous", "go back",
                  "volume up", "volume down", "louder", "quieter", "mute", "unmute", "cancel",
                  "never mind", "repeat that", "shuffle", "yes", "no", "okay", "thank you",
                  "good night", "good morning", "help", "turn it off", "turn it up",
                  "turn it down", "stop the music", "snooze", "dismiss", "start over",
                  "what was that", "louder please", "be quiet", "keep going", "try again"]

SMALL_NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                 "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
                 "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_words(n: int) -> str:
    """0 <= n < 1000 in words, as a speaker says it ("one hundred and five" without the and)."""
    if not 0 <= n < 1000:
        raise ValueError(f"number_words: expected 0 <= n < 1000, got {n}")
    if n < 20:
        return SMALL_NUMBERS[n]
    if n < 100:
        t, u = divmod(n, 10)
        return TENS[t] + ("" if u == 0 else " " + SMALL_NUMBERS[u])
    h, r = divmod(n, 100)
    return SMALL_NUMBERS[h] + " hundred" + ("" if r == 0 else " " + number_words(r))
