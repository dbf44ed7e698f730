"""Natural-language instructions ("用悲伤的语气慢慢说", "speak cheerfully and a bit faster") -> ``Prosody``.

The parser looks for cues in Chinese and English (emotions, speaking styles, rate, pitch, loudness,
whisper), each with a degree read from the words around it ("稍微", "a bit" = half as strong;
"非常", "very", "much" = 1.6 times; "别太快", "not so fast" = a little the other way), and
combines them. Requests that the embedded engine cannot realise (dialects, accents, singing,
character voices, another language) are listed in ``unsupported`` so callers can tell the user;
engines that can follow instructions natively receive the original text as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InputError
from ..prosody import NEUTRAL, Prosody

MAX_INSTRUCTION_CHARS = 500

_SMALL = re.compile(
    r"(稍微|稍稍|稍|略微|略|有点儿?|有一点|一点儿?|一些|些许|微微|\ba (?:bit|little|touch)\b|\bslightly\b|"
    r"\bsomewhat\b|\bkind of\b|\ba tad\b)",
    re.I,
)
_STRONG = re.compile(
    r"(非常|特别|十分|极其|极度|超级|相当|很|太|好|\bvery\b|\breally\b|\bextremely\b|\bmuch\b|"
    r"\ba lot\b|\bsuper\b|\bso\b|\bway\b|\bincredibly\b|\bdeeply\b)",
    re.I,
)
_NEGATION = re.compile(
    r"(?:不要|不用|别|不)[^，,。\s]{0,3}$|\b(?:don'?t|do not|not|never|no)\b(?:\s+[\w']+){0,2}\s*$", re.I
)
_CLAUSE = re.compile(r"[，,。.;；!！?？、]|\band\b|\bbut\b|\bthen\b|和|并且|然后|同时|但", re.I)


@dataclass(frozen=True)
class _Cue:
    label: str
    prosody: Prosody
    pattern: re.Pattern[str]
    kind: str = "style"  # "style", "adjust" (rate/pitch/volume: a negation reverses it) or "unsupported"


def _cue(label: str, prosody: Prosody, pattern: str, kind: str = "style") -> _Cue:
    return _Cue(label, prosody, re.compile(pattern, re.I), kind)


# Emotions and styles: rate, pitch (st), range, volume (dB), brightness, quality, tremolo. Emotions change
# prosody and only a little of the timbre (tilt at most 1 dB/octave, no change of voice quality), so that a
# cloned voice stays recognisable: bench/bench_instruct.py measured breathiness and a 2 dB/octave tilt
# costing cloned voices 0.05-0.07 of speaker similarity.
_CUES: tuple[_Cue, ...] = (
    _cue(
        "happy",
        Prosody(1.08, 2.0, 1.35, 2.0, 0.7),
        r"开心|高兴|快乐|愉快|欢快|喜悦|兴高采烈|欢乐|愉悦|\bhapp(?:y|ily)\b|\bcheerful(?:ly)?\b|\bjoyful(?:ly)?\b|"
        r"\bjoyous(?:ly)?\b|\bglad(?:ly)?\b|\bupbeat\b|\bchipper\b",
    ),
    _cue(
        "excited",
        Prosody(1.15, 3.0, 1.5, 3.0, 1.0),
        r"兴奋|激动|热情|\bexcit(?:ed|edly|ing|ement)\b|\benthusiastic(?:ally)?\b|\benergetic(?:ally)?\b",
    ),
    _cue(
        "sad",
        Prosody(0.85, -1.5, 0.65, -4.0, -0.6),
        r"悲伤|难过|伤心|沮丧|低落|忧伤|哀伤|悲痛|失落|委屈|\bsad(?:ly|der)?\b|\bsorrowful(?:ly)?\b|\bunhappy\b|"
        r"\bmelanchol(?:y|ic)\b|\bdepressed\b|\bgloom(?:y|ily)\b|\bmournful(?:ly)?\b|\bheartbroken\b",
    ),
    _cue(
        "angry",
        Prosody(1.05, 1.0, 1.4, 5.0, 1.0),
        r"生气|愤怒|恼火|气愤|发火|暴躁|\bangr(?:y|ily)\b|\bfurious(?:ly)?\b|\bmad\b|\bannoyed\b|\birritated\b|"
        r"\brage\b|\benraged\b",
    ),
    _cue(
        "calm",
        Prosody(0.92, -0.5, 0.8, -3.0, -0.8),
        r"平静|冷静|温柔|柔和|轻柔|安静|舒缓|沉稳|温和|平和|\bcalm(?:ly)?\b|\bgentl[ey]\b|\bsoothing(?:ly)?\b|"
        r"\bpeaceful(?:ly)?\b|\brelax(?:ed|ing)\b|\btender(?:ly)?\b|\bwarm(?:ly)?\b|\bsoft-spoken\b",
    ),
    _cue(
        "surprised",
        Prosody(1.05, 3.0, 1.5, 2.0, 0.5),
        r"惊讶|吃惊|惊喜|震惊|\bsurprised?\b|\bamazed\b|\bastonished\b|\bshocked\b",
    ),
    _cue(
        "fearful",
        Prosody(1.1, 1.5, 0.9, -2.0, 0.0, tremolo=0.35),
        r"害怕|恐惧|紧张|惊恐|颤抖|\bscared\b|\bafraid\b|\bfearful(?:ly)?\b|\bnervous(?:ly)?\b|\bfrightened\b|"
        r"\btrembl(?:ing|e)\b|\banxious(?:ly)?\b",
    ),
    _cue(
        "serious",
        Prosody(0.95, -1.0, 0.85, 0.0, 0.3),
        r"严肃|认真|郑重|正式|庄重|\bserious(?:ly)?\b|\bsolemn(?:ly)?\b|\bformal(?:ly)?\b|\bstern(?:ly)?\b|\bgrave(?:ly)?\b",
    ),
    _cue(
        "tired",
        Prosody(0.85, -1.0, 0.7, -3.0, -0.5),
        r"疲惫|疲倦|累|困|无力|慵懒|\btired(?:ly)?\b|\bweary\b|\bsleepy\b|\bexhausted\b|\blaz(?:y|ily)\b|\bdrowsy\b",
    ),
    _cue(
        "cute",
        Prosody(1.0, 2.5, 1.3, 0.0, 0.5),
        r"撒娇|可爱|俏皮|萌|\bcute(?:ly)?\b|\bplayful(?:ly)?\b|\bsweet(?:ly)?\b",
    ),
    _cue(
        "confident",
        Prosody(0.97, -0.5, 1.15, 2.0, 0.8),
        r"自信|坚定|骄傲|有力|\bconfident(?:ly)?\b|\bproud(?:ly)?\b|\bassertive(?:ly)?\b|\bfirm(?:ly)?\b",
    ),
    _cue(
        "announcer",
        Prosody(0.95, -0.5, 1.25, 2.5, 0.8),
        r"播音|主持人|新闻|主播|广播|\bannouncer\b|\bnews ?(?:reader|caster|anchor)\b|\bbroadcast(?:er|ing)?\b|"
        r"\bradio host\b|\bpresenter\b",
    ),
    _cue(
        "storyteller",
        Prosody(0.9, 0.0, 1.3, 0.0, 0.0),
        r"讲故事|说书|朗读|朗诵|\bstory ?tell(?:er|ing)\b|\bnarrat(?:or|e|ing)\b|\bbedtime story\b|"
        r"\bread(?:ing)? aloud\b|\brecit(?:e|ing)\b",
    ),
    _cue(
        "laughing",
        Prosody(1.0, 2.0, 1.3, 1.0, 0.5, "breathy", 0.6),
        r"笑着|边笑|大笑|带着笑|\blaugh(?:ing|ingly)?\b|\bgiggl(?:e|ing)\b|\bchuckl(?:e|ing)\b",
    ),
    _cue(
        "monotone",
        Prosody(1.0, 0.0, 0.45),
        r"平淡|单调|没有感情|面无表情|毫无感情|\bmonoton(?:e|ous|ously)\b|\bflat(?:ly)?\b|\bdeadpan\b|\bemotionless\b",
    ),
    _cue(
        "expressive",
        Prosody(1.0, 0.5, 1.45, 1.0, 0.3),
        r"有感情|抑扬顿挫|生动|富有表现力|声情并茂|\bexpressive(?:ly)?\b|\blively\b|\banimated(?:ly)?\b|"
        r"\bdramatic(?:ally)?\b|\bwith (?:feeling|emotion)\b",
    ),
    _cue("whisper", Prosody(0.95, 0.0, 1.0, -6.0, 0.0, "whisper"), r"耳语|悄悄|低语|窃窃私语|\bwhisper(?:ing|ed|s)?\b"),
    _cue("breathy", Prosody(quality="breathy", volume=-2.0), r"气声|气息感|呼吸感|\bbreathy\b|\bairy\b|\bhusky\b"),
    # Plain adjustments: degrees apply, and "not too fast" turns them the other way a little.
    _cue(
        "faster",
        Prosody(rate=1.3),
        r"(?<![愉欢痛凉爽畅不])快(?!乐|活)|加速|急促|语速快|\bfast(?:er)?\b|\bquick(?:ly|er)?\b|\bspeed up\b|"
        r"\brapid(?:ly)?\b|\bhurr(?:y|ied|iedly)\b",
        "adjust",
    ),
    _cue(
        "slower",
        Prosody(rate=0.77),
        r"慢|放缓|缓慢|\bslow(?:ly|er)?\b|\bunhurried(?:ly)?\b|\bleisurely\b|\btake your time\b",
        "adjust",
    ),
    _cue(
        "higher pitch",
        Prosody(pitch=3.0),
        r"(?:音调|声调|音高|声音|调子)[^，,。]{0,3}高|高音|尖|\bhigh(?:er)?[- ]pitch(?:ed)?\b|"
        r"\braise (?:your|the) pitch\b|\bpitch (?:it )?up\b|\bhigher voice\b",
        "adjust",
    ),
    _cue(
        "lower pitch",
        Prosody(pitch=-3.0),
        r"(?:音调|声调|音高|调子)[^，,。]{0,3}低|低沉|低音|浑厚|\blow(?:er)?[- ]pitch(?:ed)?\b|\bdeep(?:er)? voice\b|"
        r"\bdeeper\b|\bpitch (?:it )?down\b",
        "adjust",
    ),
    _cue(
        "louder",
        Prosody(volume=6.0, brightness=1.0),
        r"(?:声音|音量)[^，,。]{0,3}大|大声|响亮|洪亮|提高音量|音量大|大点声|\bloud(?:er|ly)?\b|\bspeak up\b|"
        r"\bshout(?:ing)?\b|\byell(?:ing)?\b",
        "adjust",
    ),
    _cue(
        "quieter",
        Prosody(volume=-8.0, brightness=-0.8),
        r"(?:声音|音量)[^，,。]{0,3}小|小声|轻声|低声|音量小|轻轻|\bquiet(?:er|ly)?\b|\bsoft(?:er|ly)\b|"
        r"\blower (?:your|the) voice\b|\bhushed\b|\bunder your breath\b|\bmurmur(?:ing)?\b",
        "adjust",
    ),
    # What the embedded engine cannot do.
    _cue(
        "dialect",
        NEUTRAL,
        r"(?:四川|粤|广东|上海|东北|天津|闽南|台湾|长沙|郑州|武汉|重庆|河南|山东|湖南|陕西|客家|潮汕|北京|南京|苏州|杭州)"
        r"(?:话|语|方言|口音|腔)|方言|粤语|\bcantonese\b|\bsichuan(?:ese)?\b|\bshanghainese\b|\bhokkien\b|\bdialect\b|"
        r"\baccent\b|口音",
        "unsupported",
    ),
    _cue(
        "singing",
        NEUTRAL,
        r"唱|哼|说唱|\bsing(?:ing|s)?\b|\bsung\b|\brap(?:ping)?\b|\bhum(?:ming)?\b|\bchant(?:ing)?\b",
        "unsupported",
    ),
    _cue(
        "character voice",
        NEUTRAL,
        r"机器人|小孩|儿童|孩子|小朋友|老人|老奶奶|老爷爷|男声|女声|男生|女生|卡通|怪兽|外星人|\brobot(?:ic)?\b|"
        r"\bchild(?:ish|like)?\b|\bkids?\b|\bold (?:man|woman|lady)\b|\belderly\b|\bmale voice\b|\bfemale voice\b|"
        r"\bcartoon\b|\bmonster\b|\balien\b|\bbaby\b|\bvillain\b|\bpirate\b",
        "unsupported",
    ),
    _cue(
        "another language",
        NEUTRAL,
        r"用(?:英语|英文|日语|日文|韩语|法语|德语|西班牙语)|\bin (?:english|japanese|korean|french|spanish|german)\b",
        "unsupported",
    ),
)

_UNSUPPORTED_REASONS = {
    "dialect": "dialects and accents (e.g. Sichuanese, Cantonese) need a model trained on them",
    "singing": "the embedded engine speaks; it cannot sing, rap or hum",
    "character voice": "a different kind of voice (child, elderly, robot, another gender) needs another voice: "
    "pick or clone one",
    "another language": "the language follows the text; write the text in that language or use <|en|>/<|zh|>/<|ja|> "
    "tags",
}


@dataclass(frozen=True)
class Instruction:
    """An instruction as understood: the delivery to use, and what could not be followed."""

    text: str
    prosody: Prosody
    understood: tuple[str, ...]
    unsupported: tuple[str, ...]

    @property
    def warnings(self) -> tuple[str, ...]:
        notes = [f"not followed: {_UNSUPPORTED_REASONS[label]}" for label in self.unsupported]
        if not self.understood and not self.unsupported:
            notes.append(
                "instruction not understood, speaking neutrally; try emotions (happy, sad, angry, calm, excited, "
                "serious, tired...), a style (announcer, storyteller, whisper) or rate/pitch/volume (faster, lower, "
                "quieter), in English or Chinese"
            )
        return tuple(notes)


def parse_instruction(text: str) -> Instruction:
    """Understand ``text``; raises ``InputError`` only for input that is not an instruction at all."""
    if not isinstance(text, str):
        raise InputError("the instruction must be text")
    text = text.strip()
    if not text:
        raise InputError("the instruction is empty; say how the text should be spoken")
    if len(text) > MAX_INSTRUCTION_CHARS:
        raise InputError(f"the instruction is {len(text)} characters; keep it under {MAX_INSTRUCTION_CHARS}")
    prosody = NEUTRAL
    understood: list[str] = []
    unsupported: list[str] = []
    applied: set[str] = set()
    for clause in _clauses(text):
        for cue in _CUES:
            if cue.label in applied:
                continue
            for match in cue.pattern.finditer(clause):
                before = clause[max(0, match.start() - 24) : match.start()]
                after = clause[match.end() : match.end() + 4]
                if cue.kind == "unsupported":
                    unsupported.append(cue.label)
                    break
                negated = bool(_NEGATION.search(before))
                if negated and cue.kind == "style":  # "don't sound sad": simply not sad
                    understood.append(f"not {cue.label}")
                    applied.add(cue.label)
                    break
                degree = -0.5 if negated else _degree(before, after)
                prosody = prosody.then(cue.prosody.scaled(degree))
                understood.append(("not " if negated else "") + cue.label + _degree_word(degree))
                applied.add(cue.label)
                break
    return Instruction(text, prosody, tuple(dict.fromkeys(understood)), tuple(dict.fromkeys(unsupported)))


def _clauses(text: str) -> list[str]:
    return [c for c in (part.strip() for part in _CLAUSE.split(text)) if c]


def _degree(before: str, after: str) -> float:
    """How strongly: the closest degree word before the cue wins; Chinese "快一点" puts it after."""
    small = [m.end() for m in _SMALL.finditer(before)]
    strong = [m.end() for m in _STRONG.finditer(before)]
    if small or strong:
        return 0.5 if max(small, default=-1) > max(strong, default=-1) else 1.6
    if re.match(r"\s*(?:一点|一些|些|点)", after):
        return 0.6
    return 1.0


def _degree_word(degree: float) -> str:
    if degree < 0:
        return " (the other way, a little)"
    return " (a bit)" if degree < 1 else " (very)" if degree > 1 else ""
