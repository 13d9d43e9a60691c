"""Demo data behind ``kehu seed-demo``: a few hundred customers and everything around them.

The data is planned first, from ``random.Random(seed)`` alone, then applied through the domain
operations (``create_customer``, ``set_referrer``, ``link_customers``, ``log_interaction``,
``record_order``), so it obeys every rule the API enforces. All of it runs in one transaction:
the operations' own transactions nest as savepoints, which makes seeding fast on SQLite (one
commit instead of thousands) and all-or-nothing everywhere.

Emails use the reserved ``.example`` top-level domain and foreign phones the ranges set aside
for fiction (UK 07700 900xxx, US 555-01xx), so a demo never reaches a real
person. China reserves no such range: the Chinese mobile numbers are random.
"""

from __future__ import annotations

import random
import re
import secrets
import unicodedata
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Generic, TypeVar

from tortoise.transactions import in_transaction

from models.access import Team
from models.complaints import assign_complaint, file_complaint, transition_complaint
from models.customers import Customer, Gender, Source, create_customer
from models.graph import LinkKind, link_customers, set_referrer
from models.interactions import Direction, InteractionKind, log_interaction
from models.orders import OrderStatus, record_order
from models.permissions import DataScope
from models.scope import Scope
from models.staff import create_role, create_team, create_user
from models.surveys import submit_survey
from models.tokens import LOGIN_TOKEN_LIFETIME, create_api_token
from models.validation import clean_email, clean_phone

__all__ = ["DemoAdmin", "DemoPlan", "is_empty", "seed_demo_staff", "plan_demo", "seed_demo"]

T = TypeVar("T", bound=Hashable)

_CHAIN = 9
"""Customers 0…8 form one referral chain, eight levels below its root; 9 and 10 are big referrers."""
_HISTORY_DAYS = 730


def _pairs(text: str) -> list[tuple[str, str]]:
    """``"王 wang,李 li"`` → ``[("王", "wang"), ("李", "li")]``."""
    return [tuple(item.split(" ")) for item in text.split(",")]  # type: ignore[misc]


# Most common first: the pickers weight by rank. Pinyin is for email addresses.
_SURNAMES = _pairs(
    "王 wang,李 li,张 zhang,刘 liu,陈 chen,杨 yang,黄 huang,赵 zhao,吴 wu,周 zhou,徐 xu,孙 sun,"
    "马 ma,朱 zhu,胡 hu,郭 guo,何 he,高 gao,林 lin,罗 luo,郑 zheng,梁 liang,谢 xie,宋 song,"
    "唐 tang,许 xu,韩 han,冯 feng,邓 deng,曹 cao,彭 peng,曾 zeng,田 tian,董 dong,潘 pan,"
    "蒋 jiang,蔡 cai,叶 ye,苏 su,魏 wei,吕 lv,沈 shen,姚 yao,钟 zhong,陆 lu,欧阳 ouyang,司马 sima"
)
_GIVEN = {
    Gender.FEMALE: _pairs(
        "芳 fang,娜 na,敏 min,静 jing,丽 li,艳 yan,娟 juan,霞 xia,秀英 xiuying,桂英 guiying,"
        "玉兰 yulan,婷 ting,雪 xue,慧 hui,颖 ying,琳 lin,欣怡 xinyi,梓涵 zihan,雨涵 yuhan,"
        "诗涵 shihan,思琪 siqi,佳怡 jiayi,晓燕 xiaoyan,丹 dan,萍 ping,红梅 hongmei,美玲 meiling"
    ),
    Gender.MALE: _pairs(
        "伟 wei,强 qiang,磊 lei,军 jun,洋 yang,勇 yong,杰 jie,涛 tao,明 ming,超 chao,刚 gang,"
        "平 ping,辉 hui,鹏 peng,华 hua,飞 fei,鑫 xin,波 bo,斌 bin,宇 yu,浩 hao,子轩 zixuan,"
        "浩然 haoran,宇轩 yuxuan,博文 bowen,志强 zhiqiang,建华 jianhua,建国 jianguo,天佑 tianyou"
    ),
}
_LATIN_GIVEN = {
    Gender.FEMALE: "Anna,Emma,Sophie,Laura,Maria,Julia,Olivia,Chloé,Léa,Giulia,Sofía,Hannah,Mei,Yuki,Zoë,Anna-Lena",
    Gender.MALE: "James,Thomas,Lukas,Daniel,Marco,Pierre,Jonas,Michael,David,Alejandro,Kenji,Ivan,Liam,Noah,Jean-Luc",
}
_LATIN_FAMILY = (
    "Smith,Johnson,Brown,Müller,Schmidt,Schneider,García,Martínez,Rossi,Bianchi,Dubois,Lefèvre,"
    "O'Brien,Nguyen,Kim,Tanaka,Silva,Kowalski,Novak,Andersson,van der Berg,Petrov"
).split(",")

_COMPANIES = [
    # (name, email domain label, Chinese?)
    ("杭州云帆科技有限公司", "yunfan-tech", True),
    ("上海鼎盛贸易有限公司", "dingsheng-trade", True),
    ("深圳华创电子有限公司", "huachuang-elec", True),
    ("北京青禾餐饮管理有限公司", "qinghe-food", True),
    ("广州明珠服饰有限公司", "mingzhu-fashion", True),
    ("成都天府茶业有限公司", "tianfu-tea", True),
    ("苏州锦绣丝绸有限公司", "jinxiu-silk", True),
    ("武汉长江物流有限公司", "changjiang-logistics", True),
    ("厦门海韵家居有限公司", "haiyun-home", True),
    ("青岛蓝海水产有限公司", "lanhai-seafood", True),
    ("宁波甬新五金有限公司", "yongxin-hardware", True),
    ("重庆山城火锅连锁", "shancheng-hotpot", True),
    ("Northwind Traders Ltd", "northwind", False),
    ("Müller & Söhne GmbH", "mueller-soehne", False),
    ("Atelier Dubois SARL", "atelier-dubois", False),
    ("Rossi Import S.r.l.", "rossi-import", False),
    ("Bluefin Logistics Inc.", "bluefin", False),
    ("Harbor & Vine Co.", "harborvine", False),
]

_CN_MOBILE_PREFIXES = (
    "130 131 132 133 135 136 137 138 139 150 151 152 153 155 156 157 158 159 166 "
    "176 177 178 180 181 182 183 185 186 187 188 189 191 198 199"
).split()
_US_AREA_CODES = ["212", "415", "646", "206", "312", "617", "213", "305", "512", "718"]
_CN_MAIL = ["qq.example", "163.example", "126.example", "sina.example", "foxmail.example", "outlook.example"]
_LATIN_MAIL = ["gmail.example", "outlook.example", "web.example", "yahoo.example", "proton.example"]

_TAGS = {
    "VIP": 6, "老客户": 14, "新客户": 10, "wholesale": 6, "newsletter": 12, "高潜力": 6, "价格敏感": 8,
    "企业客户": 5, "回头客": 8, "B2B": 4, "influencer": 2, "华东": 8, "华南": 6, "华北": 5, "线上": 9,
    "门店": 7, "已投诉": 2,
}
_NOTES = [
    "偏好顺丰快递，周末不方便收货。",
    "对价格比较敏感，优先推荐促销款。",
    "老朋友介绍来的，服务要细致。",
    "公司采购负责人，每季度集中下单。",
    "有过一次投诉（物流延误），已妥善处理。\n后续发货请提前电话确认。",
    "喜欢新品，可以邀请参加试用活动。",
    "Prefers to be contacted by email after 6 pm.",
    "Travels to Shanghai twice a year; likes to visit the flagship store.",
    "Asked for English invoices.",
]
_CUSTOM_FIELDS = {
    "会员卡号": lambda rng: f"HY{rng.randint(100000, 999999)}",
    "wechat_id": lambda rng: f"wxid_{rng.randint(10**7, 10**8 - 1)}",
    "preferred_language": lambda rng: rng.choice(["zh-CN", "zh-CN", "zh-CN", "en", "de", "fr"]),
    "industry": lambda rng: rng.choice(["餐饮", "零售", "制造", "物流", "教育", "IT", "hospitality"]),
    "credit_limit": lambda rng: rng.choice([5000, 10000, 20000, 50000, 100000]),
    "newsletter_opt_in": lambda rng: rng.random() < 0.6,
    "衣服尺码": lambda rng: rng.choice(["S", "M", "L", "XL"]),
}

_SUMMARIES = {
    InteractionKind.CALL: (
        ["电话回访，客户对上次购买的产品很满意", "客户来电咨询退货流程", "电话确认发货地址", "来电询问会员积分余额"],
        ["Follow-up call about the last order", "Called to confirm the delivery address"],
    ),
    InteractionKind.EMAIL: (
        ["发送新品目录和报价单", "客户邮件索取增值税发票", "邮件确认年度框架协议条款"],
        ["Sent the quarterly price list", "Customer asked for an invoice copy"],
    ),
    InteractionKind.SMS: (
        ["发送生日祝福短信", "发送双十一预售提醒", "发货通知短信"],
        ["Shipping notification", "Birthday greeting"],
    ),
    InteractionKind.WECHAT: (
        ["微信沟通新品试用安排", "客户在企业微信咨询积分兑换", "发送中秋节祝福", "微信发送电子发票"],
        ["WeChat chat about the spring collection"],
    ),
    InteractionKind.VISIT: (
        ["客户到店试穿，购买两件", "上门拜访，了解下季度采购计划", "到店取货并办理会员卡"],
        ["Visited the flagship store", "On-site visit to discuss bulk pricing"],
    ),
    InteractionKind.MEETING: (
        ["季度业务回顾会议", "年度合同续签谈判", "新品发布会后的洽谈"],
        ["Product demo for the purchasing team", "Quarterly business review"],
    ),
    InteractionKind.NOTE: (
        ["客户近期搬家，新地址待确认", "客户反馈包装破损，已补发", "备注：下次联系请先发微信"],
        ["Prefers calls in the morning", "Asked not to receive SMS promotions"],
    ),
}
_CHANNELS = {
    InteractionKind.CALL: ["400热线", "mobile", "座机"],
    InteractionKind.EMAIL: ["support mailbox", "sales mailbox"],
    InteractionKind.SMS: ["短信平台"],
    InteractionKind.WECHAT: ["企业微信", "公众号", "小程序客服"],
    InteractionKind.VISIT: ["上海徐汇旗舰店", "杭州西湖店", "客户公司"],
    InteractionKind.MEETING: ["腾讯会议", "Zoom", "会议室 A"],
    InteractionKind.NOTE: [None],
}
_OUTCOMES = ["已解决", "需跟进", "客户满意", "已报价", "未接通", "scheduled a follow-up", "resolved", None, None]
_ORDER_CHANNELS = ["天猫", "京东", "微信小程序", "门店", "官网", "抖音小店", "wholesale", "Shopify"]
_LINK_NOTES = {
    LinkKind.FAMILY: ["夫妻", "母女", "父子", "兄弟", "姐妹", "表亲", "siblings", ""],
    LinkKind.FRIEND: ["大学同学", "健身房认识", "老乡", "college friends", ""],
    LinkKind.COLLEAGUE: ["同部门", "采购部同事", "same team", ""],
    LinkKind.PARTNER: ["供应商", "经销商", "合作伙伴", "distributor"],
    LinkKind.SUBSIDIARY: ["子公司", "分公司", "subsidiary"],
    LinkKind.OTHER: ["同一小区", "展会上认识", "met at the Canton Fair", ""],
}


class _Picker(Generic[T]):
    """Weighted choice that deals every option once first, so even a small demo shows them all."""

    def __init__(self, rng: random.Random, weights: dict[T, float]):
        self._rng = rng
        self._options = list(weights)
        self._weights = list(weights.values())
        self._unseen = list(weights)
        rng.shuffle(self._unseen)

    def __call__(self) -> T:
        if self._unseen:
            return self._unseen.pop()
        return self._rng.choices(self._options, self._weights)[0]


def _ranked(rng: random.Random, items: list[T]) -> T:
    """Earlier items are commoner (weight by rank)."""
    return rng.choices(items, range(len(items), 0, -1))[0]


def _tidy(tags: list[str]) -> list[str]:
    """Each tag once; a customer is not both new and old."""
    tags = list(dict.fromkeys(tags))
    return [t for t in tags if t != "新客户"] if "老客户" in tags else tags


def _ascii(text: str) -> str:
    """``"Müller"`` → ``"muller"``, ``"O'Brien"`` → ``"obrien"``: a mail-safe handle."""
    decomposed = unicodedata.normalize("NFKD", text)
    return re.sub(r"[^a-z0-9]", "", decomposed.encode("ascii", "ignore").decode().lower())


@dataclass
class _Person:
    data: dict[str, Any]
    family: str
    """Surname, for FAMILY links."""
    company: int | None
    latin: bool
    heavy: bool = False
    """A customer with a long history: many interactions and orders."""


@dataclass
class DemoPlan:
    """Everything the demo will create, by customer index, before any of it touches the database."""

    customers: list[dict[str, Any]] = field(default_factory=list)
    referrers: list[int | None] = field(default_factory=list)
    links: list[tuple[int, int, LinkKind, str]] = field(default_factory=list)
    interactions: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    orders: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


class _Identities:
    """Unique phones and emails: compared in their stored (cleaned) form."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.phones: set[str] = set()
        self.emails: set[str] = set()

    def phone(self, foreign: bool) -> str:
        rng = self.rng
        attempts = 0
        while True:
            attempts += 1
            # The fiction ranges hold under 2,000 numbers; a very large demo runs out of them.
            if not foreign or attempts > 50:
                digits = rng.choice(_CN_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
                raw = rng.choice([
                    digits,
                    digits,
                    f"{digits[:3]} {digits[3:7]} {digits[7:]}",
                    f"{digits[:3]}-{digits[3:7]}-{digits[7:]}",
                    f"+86 {digits}",
                ])
            else:
                raw = rng.choice([
                    f"+44 7700 900{rng.randrange(1000):03d}",
                    f"0044 7700 900{rng.randrange(1000):03d}",
                    f"+1 ({rng.choice(_US_AREA_CODES)}) 555-01{rng.randrange(100):02d}",
                ])
            stored = clean_phone(raw)
            if stored not in self.phones:
                self.phones.add(stored)
                return raw

    def email(self, handles: list[str], domains: list[str]) -> str:
        rng = self.rng
        handle = rng.choice(handles)
        domain = rng.choice(domains)
        address = f"{handle}@{domain}"
        while clean_email(address) in self.emails:
            address = f"{handle}{rng.randint(1, 999)}@{domain}"
        self.emails.add(clean_email(address))
        return address


def _person(rng: random.Random, ids: _Identities, sources: _Picker[Source], referred: bool) -> _Person:
    latin = rng.random() < 0.22
    gender = rng.choice([Gender.FEMALE, Gender.MALE])
    if latin:
        given = rng.choice(_LATIN_GIVEN[gender].split(","))
        family = rng.choice(_LATIN_FAMILY)
        name = f"{given} {family}"
        handles = [f"{_ascii(given)}.{_ascii(family)}", f"{_ascii(given)[0]}{_ascii(family)}",
                   f"{_ascii(given)}{rng.randint(1, 99)}"]
    else:
        family, family_py = _ranked(rng, _SURNAMES)
        given, given_py = rng.choice(_GIVEN[gender])
        name = family + given
        handles = [f"{given_py}{family_py}{rng.randint(1, 99)}", f"{family_py}.{given_py}",
                   f"{family_py}{given_py}{rng.randint(60, 99)}", str(rng.randint(10**7, 3 * 10**9))]

    company = None
    if rng.random() < 0.42:
        matching = [i for i, c in enumerate(_COMPANIES) if c[2] != latin or rng.random() < 0.15]
        company = rng.choice(matching)
    data: dict[str, Any] = {"name": name}

    if rng.random() < 0.92:
        data["phone"] = ids.phone(foreign=rng.random() < (0.6 if latin else 0.04))
    if rng.random() < 0.8:
        domains = _LATIN_MAIL if latin else _CN_MAIL
        if company is not None and rng.random() < 0.5:
            domains = [f"{_COMPANIES[company][1]}.example"]
        data["email"] = ids.email(handles, domains)
    if rng.random() < 0.75:
        data["birthday"] = date(rng.randint(1950, 2005), 1, 1) + timedelta(days=rng.randrange(365))
    roll = rng.random()
    data["gender"] = None if roll < 0.12 else Gender.OTHER if roll < 0.14 else gender
    if company is not None:
        data["company"] = _COMPANIES[company][0]
    data["source"] = Source.REFERRAL if referred and rng.random() < 0.75 else sources()

    tags = rng.choices(list(_TAGS), list(_TAGS.values()), k=rng.choice([0, 1, 1, 2, 2, 3, 4]))
    if company is not None and rng.random() < 0.5:
        tags.append(rng.choice(["企业客户", "wholesale", "B2B"]))
    data["tags"] = _tidy(tags)
    data["custom_fields"] = {
        key: make(rng) for key, make in rng.sample(list(_CUSTOM_FIELDS.items()), k=rng.choice([0, 0, 1, 2, 3]))
    }
    if rng.random() < 0.35:
        data["notes"] = rng.choice(_NOTES)
    return _Person(data, family, company, latin, heavy=rng.random() < 0.05)


def _plan_referrers(rng: random.Random, n: int) -> list[int | None]:
    """Who referred whom, by index. A referrer is always an earlier customer: the plan has no loops."""
    referrers: list[int | None] = [None] * n
    for i in range(1, min(_CHAIN, n)):
        referrers[i] = i - 1
    # Two big referrers: a handful of direct referrals, some of whom referred others in turn.
    target = max(15, n // 15)
    next_free = _CHAIN + 2
    for hub in (_CHAIN, _CHAIN + 1):
        size = 0
        while size < target and next_free < n:
            direct = next_free
            referrers[direct] = hub
            next_free += 1
            size += 1
            for _ in range(rng.choice((0, 1, 2, 2, 3))):
                if size >= target or next_free >= n:
                    break
                referrers[next_free] = direct
                next_free += 1
                size += 1
    # Everyone else: most found the business on their own, some were referred by anyone before them.
    for i in range(next_free, n):
        if rng.random() < 0.35:
            referrers[i] = rng.randrange(i)
    return referrers


def _plan_links(rng: random.Random, people: list[_Person]) -> list[tuple[int, int, LinkKind, str]]:
    n = len(people)
    if n < 2:
        return []
    families: dict[str, list[int]] = {}
    staff: dict[int, list[int]] = {}
    for i, person in enumerate(people):
        families.setdefault(person.family, []).append(i)
        if person.company is not None:
            staff.setdefault(person.company, []).append(i)
    families_ = [group for group in families.values() if len(group) > 1]
    companies_ = [group for group in staff.values() if len(group) > 1]
    with_company = [i for group in staff.values() for i in group]

    def natural(kind: LinkKind) -> tuple[int, int] | None:
        """Family share a surname, colleagues a company; partners and subsidiaries are companies."""
        if kind is LinkKind.FAMILY and families_:
            return tuple(rng.sample(rng.choice(families_), 2))  # type: ignore[return-value]
        if kind is LinkKind.COLLEAGUE and companies_:
            return tuple(rng.sample(rng.choice(companies_), 2))  # type: ignore[return-value]
        if kind in (LinkKind.PARTNER, LinkKind.SUBSIDIARY) and len(staff) > 1:
            a, b = rng.sample(with_company, 2)
            return (a, b) if people[a].company != people[b].company else None
        return None

    kinds = _Picker(rng, {
        LinkKind.FRIEND: 30, LinkKind.FAMILY: 25, LinkKind.COLLEAGUE: 20,
        LinkKind.PARTNER: 8, LinkKind.SUBSIDIARY: 5, LinkKind.OTHER: 12,
    })
    seen: set[tuple[int, int, LinkKind]] = set()
    links: list[tuple[int, int, LinkKind, str]] = []
    for _ in range(max(len(LinkKind), n // 3)):
        kind = kinds()
        pair = natural(kind) or tuple(rng.sample(range(n), 2))
        a, b = pair
        key = (min(a, b), max(a, b), kind)  # the domain treats a tie either way round as one
        if key not in seen:
            seen.add(key)
            links.append((a, b, kind, rng.choice(_LINK_NOTES[kind])))
    return links


def _ago(rng: random.Random, now: datetime, days: int) -> datetime:
    """A moment in the last ``days`` days, at least an hour ago, to the second."""
    seconds = rng.randrange(3600, days * 86400)
    return (now - timedelta(seconds=seconds)).replace(microsecond=0)


def _plan_interactions(rng: random.Random, people: list[_Person], now: datetime) -> list[tuple[int, dict[str, Any]]]:
    kinds = _Picker(rng, {
        InteractionKind.WECHAT: 30, InteractionKind.CALL: 20, InteractionKind.NOTE: 12,
        InteractionKind.SMS: 12, InteractionKind.EMAIL: 12, InteractionKind.VISIT: 9,
        InteractionKind.MEETING: 5,
    })
    directions = _Picker(rng, {Direction.OUTBOUND: 60, Direction.INBOUND: 40})
    planned: list[tuple[int, dict[str, Any]]] = []
    for i, person in enumerate(people):
        count = rng.randint(15, 40) if person.heavy else rng.choice([0, 1, 1, 2, 2, 3, 3, 4, 5, 6])
        for _ in range(count):
            kind = kinds()
            chinese, english = _SUMMARIES[kind]
            planned.append((i, {
                "kind": kind,
                "direction": directions(),
                "channel": rng.choice(_CHANNELS[kind]),
                "occurred_at": _ago(rng, now, _HISTORY_DAYS),
                "summary": rng.choice(english if person.latin and rng.random() < 0.7 else chinese),
                "outcome": rng.choice(_OUTCOMES),
            }))
    planned.sort(key=lambda item: item[1]["occurred_at"])
    return planned


def _amount(rng: random.Random, wholesale: bool) -> Decimal:
    """Mostly tens to a few thousand; wholesale orders run larger. Always two decimal places."""
    cents = int(rng.lognormvariate(11.8 if wholesale else 9.8, 1.0))
    return Decimal(max(cents, 990)).scaleb(-2)


# A tea shop's catalogue, in groups that sell together: what the demo's recommendations draw on.
_CATALOGUE = (
    (("TEA-LJ", "西湖龙井 250g"), ("TEA-BLC", "碧螺春 250g"), ("CUP-QC", "青瓷品茗杯")),
    (("TEA-PE", "云南普洱茶饼"), ("POT-ZS", "宜兴紫砂壶"), ("TRY-BM", "竹制茶盘")),
    (("TEA-TG", "安溪铁观音礼盒"), ("SET-GF", "功夫茶具套装"), ("GIF-CD", "礼品卡")),
    (("HON-ZH", "枣花蜜"), ("SNK-LD", "绿豆糕"), ("TEA-MH", "茉莉花茶")),
)


def _plan_lines(rng: random.Random, amount: Decimal) -> list[dict[str, Any]]:
    """One to three products, mostly from one group, priced so that they add up to ``amount``."""
    group = rng.choice(_CATALOGUE)
    count = rng.choice([1, 1, 2, 2, 3])
    chosen = rng.sample(group, count - 1) + [rng.choice(rng.choice(_CATALOGUE))]
    products = list(dict.fromkeys(chosen))
    cents = int(amount * 100)
    cuts = sorted(rng.sample(range(1, cents), len(products) - 1))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, cents], strict=True)]
    return [
        {"sku": sku, "name": name, "quantity": 1, "unit_price": Decimal(part).scaleb(-2)}
        for (sku, name), part in zip(products, parts, strict=True)
    ]


def _plan_orders(rng: random.Random, people: list[_Person], now: datetime) -> list[tuple[int, dict[str, Any]]]:
    statuses = _Picker(rng, {
        OrderStatus.PAID: 72, OrderStatus.PENDING: 12, OrderStatus.CANCELLED: 9, OrderStatus.REFUNDED: 7,
    })
    currencies = _Picker(rng, {"CNY": 88, "USD": 7, "EUR": 5})
    planned: list[tuple[int, dict[str, Any]]] = []
    for i, person in enumerate(people):
        count = rng.randint(10, 25) if person.heavy else rng.choice([0, 0, 0, 1, 1, 2, 2, 3, 4, 6])
        wholesale = "wholesale" in person.data["tags"] or "B2B" in person.data["tags"]
        for _ in range(count):
            status = statuses()
            currency = currencies()
            if person.latin and currency == "CNY" and rng.random() < 0.4:
                currency = rng.choice(["USD", "EUR"])
            # Receivables are recent: a pending order was placed in the last four months.
            placed_at = _ago(rng, now, 120 if status is OrderStatus.PENDING else _HISTORY_DAYS)
            order: dict[str, Any] = {
                "amount": _amount(rng, wholesale),
                "currency": currency,
                "status": status,
                "placed_at": placed_at,
                "channel": rng.choice(_ORDER_CHANNELS),
            }
            if status is OrderStatus.PENDING or (wholesale and rng.random() < 0.5):
                # Some pending orders are overdue by now, others still fall due.
                order["payment_due_at"] = placed_at + timedelta(days=rng.choice([7, 15, 30, 30, 45, 60]))
            if status in (OrderStatus.PAID, OrderStatus.REFUNDED):
                paid_after = timedelta(minutes=rng.randrange(1, 60 * 24 * (20 if "payment_due_at" in order else 2)))
                order["paid_at"] = min(placed_at + paid_after, now - timedelta(minutes=1))
            planned.append((i, order))
    planned.sort(key=lambda item: item[1]["placed_at"])
    return planned


def plan_demo(count: int = 300, seed: int = 7, now: datetime | None = None) -> DemoPlan:
    """The demo data for ``count`` customers: the same for the same seed (times relative to ``now``)."""
    if count < 1:
        raise ValueError("the demo needs at least one customer")
    now = now or datetime.now(UTC)
    rng = random.Random(seed)
    referrers = _plan_referrers(rng, count)
    ids = _Identities(rng)
    sources = _Picker(rng, {
        Source.WECHAT: 25, Source.STORE: 18, Source.WEBSITE: 15, Source.APP: 12, Source.WEIBO: 6,
        Source.EVENT: 6, Source.REFERRAL: 5, Source.IMPORT: 8, Source.OTHER: 5,
    })
    people = [_person(rng, ids, sources, referred=referrers[i] is not None) for i in range(count)]
    # The chain's root and the big referrers are the best customers, and look it.
    for i in (0, _CHAIN, _CHAIN + 1):
        if i < count:
            people[i].heavy = True
            people[i].data["tags"] = _tidy(["VIP", "老客户", *people[i].data["tags"]])
    plan = DemoPlan(
        customers=[person.data for person in people],
        referrers=referrers,
        links=_plan_links(rng, people),
        interactions=_plan_interactions(rng, people, now),
        orders=_plan_orders(rng, people, now),
    )
    baskets = random.Random(seed + 1)  # a stream of its own: the rest of the plan stays as it was
    for _, order in plan.orders:
        order["lines"] = _plan_lines(baskets, order["amount"])
    return plan


async def seed_demo(count: int = 300, seed: int = 7) -> dict[str, int]:
    """Create the demo data in one transaction; how many customers, referrals, links … it made.

    Meant for an empty database (see ``is_empty``): a demo phone or email that is already taken
    fails the whole run with a DUPLICATE ``DomainError`` and leaves the database as it was.
    """
    plan = plan_demo(count, seed)
    scope = Scope.of_system()
    async with in_transaction():
        ids = [(await create_customer(scope, data))["id"] for data in plan.customers]
        referrals = [(i, r) for i, r in enumerate(plan.referrers) if r is not None]
        for i, r in referrals:
            await set_referrer(scope, ids[i], ids[r])
        for a, b, kind, note in plan.links:
            await link_customers(scope, ids[a], ids[b], kind, note)
        for i, data in plan.interactions:
            await log_interaction(scope, ids[i], data)
        for i, data in plan.orders:
            await record_order(scope, ids[i], data)
    return {
        "customers": len(ids),
        "referrals": len(referrals),
        "links": len(plan.links),
        "interactions": len(plan.interactions),
        "orders": len(plan.orders),
    }


async def is_empty() -> bool:
    """No customer at all, not even a deleted one: the demo may be seeded."""
    return not await Customer.all().exists()


@dataclass(frozen=True)
class DemoAdmin:
    """The demo superuser's credentials, printed once by ``kehu seed-demo``."""

    email: str
    password: str
    token: str


_DEMO_TEAMS = (("华东 East", None), ("上海 Shanghai", 0), ("华南 South", None))
_DEMO_ROLES = (
    ("Sales", "Works the customers of their own team and sub-teams", DataScope.TEAM_AND_SUBTEAMS,
     ["customer.read", "customer.create", "customer.update", "customer.claim", "interaction.create", "order.create",
      "order.update", "loyalty.redeem", "complaint.read", "complaint.create"]),
    ("Service", "Answers every customer, sees contact details, works complaints, puts points right", DataScope.ALL,
     ["customer.read", "customer.pii", "interaction.create", "complaint.read", "complaint.create", "complaint.handle",
      "complaint.assign", "loyalty.redeem", "loyalty.adjust"]),
    ("Analyst", "Reads every customer, masked", DataScope.ALL, ["customer.read"]),
)


async def seed_demo_staff() -> DemoAdmin:
    """Teams, roles, a superuser and a few staff; the demo customers are shared out among them.

    Passwords are random: the admin's is returned (to be shown once), the others are never
    shown and can be reset by the admin.
    """
    system = Scope.of_system()
    teams = []
    for name, parent in _DEMO_TEAMS:
        teams.append(await create_team(system, name, teams[parent]["id"] if parent is not None else None))
    roles = [
        await create_role(system, name, codes, scope, description) for name, description, scope, codes in _DEMO_ROLES
    ]
    people = (
        ("wang.fang@kehu.example", "王芳", teams[0], roles[0]),
        ("chen.jie@kehu.example", "陈杰", teams[1], roles[0]),
        ("lucy.lin@kehu.example", "Lucy Lin", teams[2], roles[0]),
        ("zhao.min@kehu.example", "赵敏", None, roles[1]),
    )
    staff = [
        await create_user(system, email, name, secrets.token_urlsafe(18), team and team["id"], [role["id"]])
        for email, name, team, role in people
    ]
    sellers = staff[:3]
    customer_ids = await Customer.all().order_by("id").values_list("id", flat=True)
    for index, seller in enumerate(sellers):
        mine = customer_ids[index :: len(sellers)]
        await Customer.filter(id__in=mine).update(owner_id=seller["id"], team_id=seller["team_id"])
    for team, seller in zip(teams, sellers, strict=True):
        await Team.filter(id=team["id"]).update(lead_id=seller["id"])
    await _seed_complaints(customer_ids, staff[3]["id"])
    password = secrets.token_urlsafe(18)
    admin = await create_user(system, "admin@kehu.example", "Admin", password, is_superuser=True)
    expires_at = datetime.now(UTC) + LOGIN_TOKEN_LIFETIME
    _, token = await create_api_token(system, admin["id"], "GraphiQL (demo)", expires_at)
    return DemoAdmin(admin["email"], password, token)


_DEMO_COMPLAINTS = (
    # subject, category, channel, priority, the moves made so far
    ("快递三天没更新", "delivery", "wechat", "high", ()),
    ("收到的杯子碎了", "product_quality", "app", "urgent", ("acknowledged",)),
    ("发票抬头开错了", "billing", "email", "normal", ("acknowledged", "in_progress")),
    ("客服态度不好", "service_attitude", "phone", "high", ("acknowledged", "in_progress", "waiting_on_customer")),
    ("退款还没到账", "billing", "phone", "urgent", ("acknowledged", "in_progress", "resolved")),
    ("尺码和描述不符", "product_quality", "web", "low", ("acknowledged", "in_progress", "resolved", "closed")),
    ("门店少给了赠品", "other", "store", "normal", ("cancelled",)),
    ("The parcel went to the wrong city", "delivery", "email", "normal", ()),
)


async def _seed_complaints(customer_ids: list[int], handler_id: int) -> None:
    """A few complaints in every state, worked by the service desk; one closed and rated."""
    system = Scope.of_system()
    for index, (subject, category, channel, priority, moves) in enumerate(_DEMO_COMPLAINTS):
        customer_id = customer_ids[(index * 37) % len(customer_ids)]
        complaint = await file_complaint(system, customer_id, {
            "subject": subject, "description": subject, "channel": channel, "category": category, "priority": priority,
        })
        if moves and moves[0] != "cancelled":
            await assign_complaint(system, complaint["id"], handler_id)
        for move in moves:
            await transition_complaint(system, complaint["id"], move, "已处理" if move == "resolved" else None)
        if "closed" in moves:
            await submit_survey(system, {"csat": 4, "nps": 8, "comment": "处理得挺快"}, complaint_id=complaint["id"])

