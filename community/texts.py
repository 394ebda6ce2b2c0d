"""Words people read outside the dashboard: notifications and CAP messages, English and Chinese.

The dashboard has its own copy in ``static/app.js``; these are the same names for the texts
the server writes itself. Kinds the catalog adds later fall back to their canonical name.
"""

from __future__ import annotations

from typing import Final

#: Alarm kind -> (English, Chinese).
EVENT_NAMES: Final[dict[str, tuple[str, str]]] = {
    "smoke_alarm": ("Smoke alarm", "烟雾报警"),
    "gas_alarm": ("Gas leak", "燃气泄漏"),
    "fall_detected": ("Fall detected", "跌倒检测"),
    "emergency_call": ("Emergency call", "紧急呼叫"),
    "water_leak": ("Water leak", "漏水报警"),
    "device_offline": ("Device offline", "设备离线"),
    "battery_low": ("Battery low", "电量低"),
    "hardware_fault": ("Hardware fault", "硬件故障"),
    "end_of_service": ("End of service", "寿命到期"),
    "tamper": ("Tamper", "防拆报警"),
    "hub_offline": ("Home hub offline", "家庭网关离线"),
    "charger_overtemperature": ("Charger over-temperature", "充电过温"),
    "charger_overpower": ("Charger over-power", "充电功率过高"),
    "charger_abnormal_load": ("Abnormal charging load", "充电负载异常"),
    "charge_too_long": ("Charging too long", "充电时间过长"),
    "charging_shed_smoke": ("Smoke in the charging shed", "充电棚烟雾报警"),
    "charger_command_unacknowledged": ("Charger did not confirm a cut", "充电桩未确认断电"),
    "elevator_ebike": ("E-bike in an elevator", "电梯内电动车"),
    "fire_lane_obstructed": ("Fire lane obstructed", "消防通道占用"),
    "care_check_missed": ("Daily care check missed", "每日平安确认未应答"),  # care checks
}
SEVERITY_NAMES: Final[dict[str, tuple[str, str]]] = {
    "critical": ("critical", "紧急"),
    "alert": ("alert", "告警"),
    "info": ("info", "提示"),
}
AUDIENCE_NAMES: Final[dict[str, tuple[str, str]]] = {
    "resident": ("resident", "住户"),
    "duty_staff": ("duty staff", "值班人员"),
    "manager": ("property manager", "物业经理"),
    "emergency": ("emergency services", "应急救援"),
}


def event_name(kind: str, zh: bool = False) -> str:
    names = EVENT_NAMES.get(kind)
    return kind if names is None else names[int(zh)]


def place(building: str | None, unit: str | None, zh: bool = False) -> str:
    """ "Building 3, Unit 2" / "3栋2单元": a location that names no flat."""
    if zh:
        return "".join([f"{building}栋" if building else "", f"{unit}单元" if unit else ""])
    return ", ".join(
        part
        for part in (f"Building {building}" if building else "", f"Unit {unit}" if unit else "")
        if part
    )
