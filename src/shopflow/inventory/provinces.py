"""China's 34 provincial divisions and the great-circle distance between their capitals (INV-3:
nearest warehouse to the destination province). Coordinates are the capitals' (degrees)."""

from __future__ import annotations

import math
from functools import lru_cache

# Province (short name) -> (capital, latitude, longitude).
CAPITALS: dict[str, tuple[str, float, float]] = {
    "北京": ("北京", 39.904, 116.407),
    "天津": ("天津", 39.125, 117.190),
    "河北": ("石家庄", 38.042, 114.515),
    "山西": ("太原", 37.870, 112.549),
    "内蒙古": ("呼和浩特", 40.842, 111.749),
    "辽宁": ("沈阳", 41.805, 123.431),
    "吉林": ("长春", 43.817, 125.324),
    "黑龙江": ("哈尔滨", 45.803, 126.535),
    "上海": ("上海", 31.230, 121.474),
    "江苏": ("南京", 32.060, 118.797),
    "浙江": ("杭州", 30.274, 120.155),
    "安徽": ("合肥", 31.821, 117.227),
    "福建": ("福州", 26.075, 119.296),
    "江西": ("南昌", 28.683, 115.858),
    "山东": ("济南", 36.651, 117.121),
    "河南": ("郑州", 34.747, 113.625),
    "湖北": ("武汉", 30.593, 114.305),
    "湖南": ("长沙", 28.228, 112.939),
    "广东": ("广州", 23.129, 113.264),
    "广西": ("南宁", 22.817, 108.366),
    "海南": ("海口", 20.044, 110.199),
    "重庆": ("重庆", 29.563, 106.551),
    "四川": ("成都", 30.573, 104.066),
    "贵州": ("贵阳", 26.647, 106.630),
    "云南": ("昆明", 25.038, 102.718),
    "西藏": ("拉萨", 29.652, 91.172),
    "陕西": ("西安", 34.341, 108.940),
    "甘肃": ("兰州", 36.061, 103.834),
    "青海": ("西宁", 36.617, 101.778),
    "宁夏": ("银川", 38.487, 106.231),
    "新疆": ("乌鲁木齐", 43.825, 87.617),
    "香港": ("香港", 22.320, 114.169),
    "澳门": ("澳门", 22.199, 113.544),
    "台湾": ("台北", 25.033, 121.565),
}
# Longest suffixes first: "广西壮族自治区" loses "壮族自治区", not just "区".
SUFFIXES = (
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "特别行政区",
    "自治区",
    "省",
    "市",
)
EARTH_RADIUS_KM = 6371.0
UNKNOWN_KM = 20_000.0  # farther than any two capitals: a province not in the table comes last


def short_name(province: str) -> str:
    """The table's name of a province as people write it ("广东省" -> "广东", "上海市" -> "上海")."""
    name = province.strip()
    for suffix in SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in CAPITALS:
            return name[: -len(suffix)]
    return name


@lru_cache(maxsize=2048)
def distance_km(a: str, b: str) -> float:
    """The haversine distance between two provinces' capitals; UNKNOWN_KM if either is unknown."""
    first, second = CAPITALS.get(short_name(a)), CAPITALS.get(short_name(b))
    if first is None or second is None:
        return UNKNOWN_KM
    lat1, lon1, lat2, lon2 = map(math.radians, (first[1], first[2], second[1], second[2]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))
