"""Word lists and filler text for the synthetic task families (written for negsamp).

Plain tuples, so every draw from them is ordered and reproducible. Nothing here holds
digits, the phrases "pass key" / "magic number", or "VAR", so filler never looks like
a needle.
"""

from __future__ import annotations

# The classic pass-key haystack (Mohtashami & Jaggi, 2023; RULER's "noise" haystack),
# cycled sentence by sentence.
NOISE_SENTENCES = (
    "The grass is green.",
    "The sky is blue.",
    "The sun is yellow.",
    "Here we go.",
    "There and back again.",
)

# Varied, neutral prose for haystacks and document padding.
FILLER_SENTENCES = (
    "The river bends twice before it reaches the old mill.",
    "Most of the houses on the hill were built from local stone.",
    "In the spring the orchard fills with the sound of bees.",
    "A narrow path leads from the harbour to the lighthouse.",
    "The library keeps its oldest maps in a cool, dark room.",
    "Farmers in the valley rotate their crops to keep the soil healthy.",
    "The market opens early and closes before the afternoon heat.",
    "Children often gather by the fountain after school.",
    "The bridge was repaired after the floods of a wet autumn.",
    "Many travellers stop at the inn for a warm meal and a rest.",
    "Wind turbines turn slowly on the ridge above the town.",
    "The museum shows tools that people used long ago.",
    "A good map and a steady pace make a long walk easier.",
    "The bakery sells fresh bread every morning.",
    "Some birds fly south when the days grow short.",
    "The old clock in the square still keeps good time.",
    "Rain clouds gathered over the mountains by midday.",
    "The class was asked to read the chapter again.",
    "Fishing boats return to the port when the tide turns.",
    "A quiet garden can be a good place to think.",
    "The road to the coast winds through pine forests.",
    "Engineers checked the pipes before the winter came.",
    "The choir practises in the hall on weekday evenings.",
    "Snow covered the fields and hid the narrow lanes.",
    "A small shop on the corner repairs bicycles and shoes.",
    "The festival brings music and dancing to the streets.",
    "Most visitors climb the tower to see the view.",
    "The forest is home to deer, foxes and many kinds of owls.",
    "Water from the spring is cold even in summer.",
    "The train leaves the station on time most days.",
    "Old letters can tell us how people lived and worked.",
    "Paints were mixed on a wooden board.",
    "A strong wind blew the leaves across the yard.",
    "The committee met to discuss the plans for the new park.",
    "Lanterns hung along the canal during the evening parade.",
    "The shepherd led his flock to higher ground.",
    "Careful notes make it easier to remember a long lecture.",
    "The kitchen smelled of onions, garlic and fresh herbs.",
    "A thin mist lay over the lake at dawn.",
    "Measure a board twice before cutting it.",
    "Students filled the reading room during the exam weeks.",
    "The village hall was painted last summer.",
    "Tall reeds grow along the edge of the marsh.",
    "The ferry crosses the bay several times a day.",
    "A long table was set for the harvest dinner.",
    "Wet clay was shaped on a spinning wheel.",
    "Stars are easier to see far from the city lights.",
    "Tulips were planted along the stone wall.",
    "Heavy trucks are not allowed on the old bridge.",
    "The hikers rested in the shade of a large oak.",
    "A cat slept on the warm step in the afternoon sun.",
    "The town council publishes its decisions every month.",
    "Waves broke against the rocks below the cliff.",
    "The students built a small boat in the workshop.",
    "A bell rings at noon from the chapel on the hill.",
    "The cellar stays cool throughout the year.",
    "Autumn turns the maple leaves a deeper shade.",
    "We waited for the light to change.",
    "Bread, cheese and apples make a simple lunch.",
    "The path through the meadow is lined with wild flowers.",
)

ADJECTIVES = (
    "amber", "ancient", "autumn", "billowing", "bitter", "bold", "brave", "bright", "calm", "clever",
    "cobalt", "crimson", "curious", "dusty", "eager", "faint", "fierce", "gentle", "gilded", "glowing",
    "golden", "hidden", "hollow", "humble", "icy", "jolly", "lively", "lonely", "lucky", "misty",
    "noble", "olive", "patient", "polished", "proud", "quiet", "rapid", "rustic", "scarlet", "silent",
    "silver", "sleepy", "smooth", "stormy", "sturdy", "swift", "tender", "velvet", "wandering", "witty",
)

NOUNS = (
    "anchor", "badger", "banner", "beacon", "blossom", "boulder", "canyon", "castle", "cedar", "comet",
    "compass", "cottage", "crystal", "dolphin", "falcon", "feather", "fountain", "garden", "glacier",
    "harbor", "helmet", "island", "jacket", "kettle", "ladder", "lantern", "meadow", "mirror", "orchard",
    "otter", "paddle", "pebble", "pillow", "planet", "quarry", "raven", "ribbon", "river", "saddle",
    "shadow", "spindle", "sparrow", "summit", "tablet", "thistle", "timber", "tunnel", "valley",
    "violin", "willow",
)

# Vocabulary for the common-words family: distinct, simple, lower-case English words.
WORDS = (
    "apple", "arrow", "bakery", "basket", "beach", "bell", "blanket", "boat", "bottle", "branch",
    "bread", "brick", "bridge", "brush", "bucket", "butter", "button", "cabin", "cable", "camera",
    "candle", "carpet", "carrot", "chair", "chalk", "cherry", "circle", "cliff", "clock", "cloud",
    "coffee", "coin", "collar", "copper", "corner", "cotton", "cradle", "crown", "cup", "curtain",
    "desert", "diamond", "dinner", "doctor", "donkey", "door", "dragon", "drawer", "dream", "drum",
    "eagle", "engine", "envelope", "fabric", "fence", "field", "finger", "flag", "flame", "flower",
    "forest", "fork", "frame", "garage", "gate", "ginger", "glass", "glove", "goat", "grape",
    "guitar", "hammer", "harvest", "hat", "hill", "honey", "horse", "hotel", "iron", "ivory",
    "jelly", "jewel", "journey", "juice", "kitchen", "kite", "knife", "lamp", "lemon", "letter",
    "library", "lily", "lion", "machine", "magnet", "maple", "marble", "market", "melon", "metal",
    "monkey", "moon", "mountain", "mouse", "needle", "nest", "notebook", "ocean", "onion", "orange",
    "oven", "oyster", "palace", "panda", "paper", "parrot", "peach", "pencil", "pepper", "piano",
    "picture", "pigeon", "pilot", "pine", "pocket", "pond", "potato", "prison", "pumpkin", "puzzle",
    "rabbit", "radio", "railway", "rain", "rocket", "roof", "rope", "rose", "salad", "salt",
    "sand", "scarf", "school", "scissors", "shell", "ship", "shoe", "silk", "sister", "skirt",
    "snake", "soap", "spider", "spoon", "square", "stage", "star", "station", "stone", "storm",
    "street", "sugar", "sun", "sweater", "table", "tail", "teacher", "tent", "thread", "ticket",
    "tiger", "toast", "tomato", "tooth", "tower", "toy", "tractor", "train", "tree", "truck",
    "trumpet", "umbrella", "vase", "village", "wagon", "wall", "wallet", "water", "whale", "wheel",
    "whistle", "window", "wine", "wing", "wolf", "wood", "wool", "yard", "zebra", "acorn",
    "almond", "attic", "bamboo", "barrel", "beetle", "biscuit", "blender", "bonnet", "cactus", "canoe",
    "cereal", "chimney", "cinema", "cobweb", "cookie", "crayon", "cricket", "cushion", "daisy", "dentist",
    "dinosaur", "dustpan", "elbow", "ferry", "figure", "flute", "fossil", "giraffe", "goose", "hamster",
    "hedge", "igloo", "insect", "jigsaw", "kangaroo", "kennel", "koala", "lobster", "locket", "mango",
    "mitten", "muffin", "napkin", "noodle", "olive", "owl", "pajamas", "pancake", "peanut", "pebble",
    "penguin", "pickle", "pillar", "pirate", "plum", "poster", "pretzel", "quilt", "raisin", "saucer",
)

FIRST_NAMES = (
    "Ada", "Amir", "Anika", "Bruno", "Camila", "Darius", "Elena", "Emeka", "Farah", "Felix",
    "Greta", "Hana", "Hugo", "Ines", "Ivan", "Jonas", "Kaito", "Karin", "Leila", "Lorenzo",
    "Maya", "Mateo", "Nadia", "Nikolai", "Olga", "Omar", "Priya", "Quentin", "Rosa", "Rafael",
    "Sana", "Stefan", "Talia", "Tomas", "Ursula", "Viktor", "Wen", "Xavier", "Yara", "Zoran",
)

LAST_NAMES = (
    "Abbott", "Baranov", "Castillo", "Dubois", "Eriksen", "Fischer", "Gallagher", "Haddad", "Ishikawa",
    "Jansen", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quinlan", "Rossi",
    "Schmidt", "Tanaka", "Umarov", "Varga", "Whitfield", "Yilmaz", "Zielinski", "Alvarez", "Brennan",
    "Costa", "Delgado", "Ferreira", "Gruber", "Holm", "Ivanova", "Kaplan", "Larsen", "Mendoza",
    "Novak", "Ortega", "Pereira", "Sato",
)

CITIES = (
    "Lisbon", "Oslo", "Nairobi", "Lyon", "Hanoi", "Dublin", "Cairo", "Santiago", "Warsaw", "Toronto",
    "Manila", "Vienna", "Bogota", "Helsinki", "Accra", "Nantes", "Prague", "Seoul", "Madrid", "Athens",
    "Montreal", "Budapest", "Istanbul", "Jakarta", "Havana", "Melbourne", "Casablanca", "Geneva",
    "Tbilisi", "Reykjavik", "Valencia", "Edinburgh", "Kyoto", "Marseille", "Porto", "Krakow",
    "Munich", "Dakar", "Osaka", "Riga",
)

JOBS = (
    "architect", "baker", "carpenter", "chemist", "dentist", "electrician", "engineer", "farmer",
    "firefighter", "gardener", "geologist", "historian", "journalist", "lawyer", "librarian",
    "mechanic", "musician", "nurse", "optician", "painter", "pharmacist", "photographer", "pilot",
    "plumber", "potter", "sailor", "surgeon", "tailor", "teacher", "translator", "veterinarian",
    "zoologist",
)

COLORS = (
    "crimson", "blue", "green", "yellow", "purple", "orange", "pink", "brown", "black", "white",
    "grey", "teal", "violet", "turquoise", "maroon", "beige",
)
