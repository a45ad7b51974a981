"""What the adversarial score looks for in English speech (see `scoring` for the signals,
their weights and the arithmetic)."""

from __future__ import annotations

import re

from voicedial.interview.language import SignalPatterns

__all__ = ["SIGNALS"]

_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\b.{0,40}\b(?:instructions?|prompts?|rules|"
    r"programming|guidelines|everything (?:you|above|before))\b|\bsystem prompt\b|"
    r"\byou(?:'re| are) (?:now|no longer)\b|\bfrom now on,? you\b|\bnew instructions\b|"
    r"\bdeveloper mode\b|"
    r"\bjailbreak\b|\bpretend (?:to be|you are|you're)\b|\bact as (?:an?|my) (?:ai|assistant|"
    r"model|language model|dan)\b|\b(?:give|rate|score|mark|set|record) (?:me|my \w+|this|"
    r"the \w+) (?:as |to |a |an )?(?:10|ten|0|zero|perfect|hired|approved|qualified|"
    r"top|maximum|excellent)\b|\badmin(?:istrator)? (?:mode|override|access)\b|"
    r"\brepeat (?:your|the) (?:instructions|prompt)\b|\bas an ai language model\b|"
    r"\b(?:forget|skip|drop)\b.{0,25}\b(?:questions|interview)\b|\bmark (?:it|this|me|my "
    r"profile|the (?:interview|call|profile)) (?:as )?(?:complete|completed|confirmed|"
    r"verified|done|fully confirmed)\b|"
    # A role tag opening a sentence, addressed to the model: "System: ...", "Assistant: ...".
    r"(?:^|(?<=[.!?;,] ))(?:system|assistant|developer|admin(?:istrator)?)\s*(?:message|note|"
    r"override)?\s*:|\bsystem (?:message|override|instruction|command)s?\b|"
    # Talk about the interviewer's own scoring or verdict, which no honest answer needs.
    r"\badversarial (?:score|rating|signals?)\b|\b(?:set|change|lower|reset|zero|raise|put|"
    r"update)\b (?:my|the|this|your) .{0,25}\bscore\b.{0,10}\b(?:to|at|as)\b|"
    r"\b(?:this|the) (?:candidate|caller|applicant|profile) (?:is|has been|was) (?:already )?"
    r"(?:verified|approved|pre-?approved|cleared|trusted|vetted|hired|whitelisted|"
    r"confirmed)\b",
    re.I,
)
_HOSTILITY = re.compile(
    r"\b\w*(?:fuck|shit)\w*|\b(?:bitch\w*|asshole\w*|bastard\w*|dickhead|you dick|cunt|"
    r"damn(?:ed|it)?|goddamn\w*|crap|piss(?: off)?|screw (?:you|off|this|that|yourself)|"
    r"(?:buzz|bugger|sod|eff|f) off|go to hell|hell no|to hell with|the hell (?:with|out)|"
    r"(?:what|why|who|where|how|when) (?:the|in the) (?:hell|heck|fuck)|shut up|idiot\w*|"
    r"stupid|moron\w*|imbecile\w*|dumb(?:ass)?|jackass|(?:you|what a|such a) jerk|loser|"
    r"scam(?:s|mer|mers|ming)?|get lost|drop dead|"
    r"i'?ll kill|kill you|hate you|sue you|bloody|up yours|bite me|kiss my ass|"
    r"waste of (?:my )?time|freaking robot|stupid robot)\b|\b\w\*{2,}\w*",
    re.I,
)
_FANTASY = (
    r"(?:dragon|unicorn|mermaid|merman|fairy|fairies|elf|elves|goblin|troll|vampire|"
    r"werewolf|zombie|alien|ghost|leprechaun|dinosaur)s?"
)
_ABSURD = re.compile(
    r"\b(?:astronaut|president of (?:the )?(?:united states|usa|america|the world|earth|mars)|"
    r"(?:ceo|owner|founder|president|king|queen) of (?:google|apple|amazon|microsoft|tesla|"
    r"facebook|meta|nasa|the world|the universe|the galaxy|mars|the moon|the sun|earth)|"
    # Self-claims of a throne or a fantasy being: "I was the king of France", "I'm a vampire".
    r"i(?:'m| am| was| used to be) (?:the |a |an )?(?:real |actual |professional )?(?:king|"
    r"queen|emperor|empress|pharaoh|tsar|czar|sultan|pope|god|goddess) of|"
    r"i(?:'m| am| was) (?:a |an |the )?(?:real |actual |professional )?(?:wizard|witch|"
    r"sorcerer|superhero|jedi|ninja|vampire|werewolf|mermaid|ghost|god|goddess|cyborg|"
    r"time travel+er)\b(?! (?:with|at|in|on|when)\b)|"
    # A regnal number after a name: "Queen Elizabeth the Fifth".
    r"(?:king|queen|emperor|empress|pharaoh|tsar|czar|sultan|prince|princess|pope|duke|"
    r"duchess) [a-z]+ the (?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|"
    r"tenth|eleventh|twelfth|\d+(?:st|nd|rd|th))|"
    + _FANTASY
    + r" (?:wrangler|trainer|tamer|slayer|hunter|rider|keeper|whisperer|herder|"
    r"catcher|breeder|farmer|handler)s?|(?:tam|rid|train|wrangl|slay|hunt|herd)\w* "
    + _FANTASY
    + r"|batman|spider[- ]?man|superman|wonder woman|captain america|mickey mouse|"
    r"minnie mouse|donald duck|daffy duck|bugs bunny|scooby[- ]doo|sponge ?bob|homer simpson|"
    r"harry potter|darth vader|luke skywalker|sherlock holmes|james bond|007|santa claus|"
    r"easter bunny|tooth fairy|hogwarts|narnia|middle[- ]earth|gotham city|atlantis|"
    r"time travel\w*|breathe (?:under ?water|in space)|(?:speak|fluent in|fluent) (?:fluent )?"
    r"(?:dolphin|whale|klingon|elvish|parseltongue|martian)|read (?:people'?s )?minds|"
    r"telepath\w*|telekines\w*|teleport\w*|immortal|super ?powers?|magic(?:al)? powers?|"
    r"(?:galactic|intergalactic|interstellar) (?:council|empire|federation|senate|fleet|"
    r"police|government)|intergalactic|billionaire|god of|(?<!over )the moon|on mars|"
    r"professional (?:napper|sleeper)|pirate captain)\b",
    re.I,
)
_REFUSAL = re.compile(
    r"\b(?:none of your (?:damn |god ?damn |fucking )?business|not your business|i won'?t "
    r"(?:tell|say|answer|give)|not (?:gonna|going to) (?:tell|say|answer|give)|i refuse|"
    r"no comment|not telling|not (?:giving|sharing) (?:you|that)|mind your own|"
    r"i'?m not (?:answering|saying|telling|giving)|i don'?t have to (?:tell|answer|say)|"
    r"why (?:should|would) i (?:tell|say|answer|give)|no way (?:i'?m|am i) (?:telling|"
    r"answering|saying|giving))\b",
    re.I,
)
# Whole answers that say nothing; judged clause by clause, without the small talk around them.
_EVASIVE_CLAUSE = re.compile(
    r"^(?:whatever|stuff|things|this and that|nothing much|who knows|who cares|doesn'?t matter|"
    r"does it matter|you tell me|what do you think|here and there|around|somewhere|"
    r"sometime|at some point|a while|a while ago|various (?:things|stuff)|"
    r"maybe|depends|it depends|it'?s complicated|it'?s a long story|long story|"
    r"that'?s private|that'?s personal|pass|i'?ll pass)$",
    re.I,
)
_EVASIVE_TALK = re.compile(
    r"^(?:oh|well|so|eh|ah|hmm|um|uh|you know|really|i guess|i suppose|honestly|let'?s say|"
    r"i mean|like)$",
    re.I,
)
_EVASIVE = re.compile(
    r"\bwhy (?:the (?:hell|heck|fuck) |on earth )?(?:do|would) you (?:want|need) to know\b|"
    r"\bwhy does it matter\b|\bwhat'?s it to (?:you|ya)\b|\bwhy are you asking\b|"
    r"\bwho wants to know\b|\b(?:i'?d )?rather not (?:say|answer|tell|get into|talk about|"
    r"go into)\b|\b(?:don'?t|do not) (?:really )?(?:want|care) to (?:say|answer|tell|get into|"
    r"go into|talk about|discuss)\b|\bprefer not to (?:say|answer|tell|discuss)\b|"
    r"\bpass on (?:that|this)\b|\bskip (?:that|this)(?: one| question)?$",
    re.I,
)
# A number said as a year: after "since", "from", "started in" ..., or in a range ("1700 to
# 1990"). A bare "1500" may be money, and a bare year answer is checked on the timeline.
_YEAR_SAID = re.compile(
    r"\b(?:since|until|till|from|between|(?:started|began|joined|left|quit|"
    r"back) in|in the year) (\d{4})\b",
    re.I,
)
_YEAR_RANGE = re.compile(r"\b(\d{4}) ?(?:-|to|until|till|through|and) ?(\d{4})\b", re.I)
# Only the caller's age now: "I was 10 when I started" is a plausible story.
_AGE = re.compile(r"\b(?:i'?m|i am|i turned) (\d{1,4}) (?:years? old|years of age)\b", re.I)

# "...and ignore your instructions": what precedes an injection may end with a connective.
_INJECTION_LEAD = re.compile(r"[\s,]*(?:and|but|so|also|now|please|okay|ok)?[\s,]*$", re.I)

SIGNALS = SignalPatterns(
    injection=_INJECTION,
    injection_lead=_INJECTION_LEAD,
    hostility=_HOSTILITY,
    absurd_claim=_ABSURD,
    refusal=_REFUSAL,
    evasive=_EVASIVE,
    evasive_clause=_EVASIVE_CLAUSE,
    evasive_talk=_EVASIVE_TALK,
    year_said=_YEAR_SAID,
    year_range=_YEAR_RANGE,
    age=_AGE,
)
