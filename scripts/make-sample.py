#!/usr/bin/env python3
"""Writes samples/ward-demo.pcap: a small synthetic capture of a hospital ward segment.

Every frame is built here with `struct` (no scapy): Ethernet, ARP, IPv4 with its header
checksum, UDP and TCP with their pseudo-header checksums, and the application payloads the
tap's dissectors read (DHCP, DNS/mDNS, NBNS, LLDP, STP, SNMP, HTTP, TLS, DICOM, HL7/MLLP).
Timestamps start at a fixed instant and every "random" value (xids, ISNs, TLS randoms) is
derived from a hash of a fixed label, so the output is byte-identical on every run.

Usage: python3 scripts/make-sample.py [output]   (default: samples/ward-demo.pcap)

All people, identifiers and hosts in it are made up. The patient in the HL7 message is a
placeholder (TEST^PATIENT) that the tap must never show.
"""

import calendar
import hashlib
import os
import struct
import sys

# 2026-11-02 08:00:00 UTC, a Monday morning.
BASE_US = calendar.timegm((2026, 11, 2, 8, 0, 0, 0, 0, 0)) * 1_000_000

BROADCAST = "ff:ff:ff:ff:ff:ff"


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def ip(s):
    return bytes(int(x) for x in s.split("."))


def det(label, n):
    """n deterministic pseudo-random bytes for `label`."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{label}/{i}".encode()).digest()
        i += 1
    return out[:n]


def det_int(label, bits=32):
    return int.from_bytes(det(label, bits // 8), "big")


class Host:
    """A device on (or behind) the segment: MAC, IPv4 address, initial TTL, IP id counter."""

    def __init__(self, name, mac_s, ip_s, ttl):
        self.name = name
        self.mac = mac(mac_s)
        self.ip = ip(ip_s)
        self.ttl = ttl
        self.ip_id = det_int("ipid/" + name, 16)

    def next_id(self):
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        return self.ip_id


# --- the cast ----------------------------------------------------------------------------
# OUIs from host-tool/data/oui.tsv: 001B54 Cisco, 00090F Fortinet, 0009FB Philips Patient
# Monitoring, 9CC8AE Becton Dickinson, 0001E3 Siemens AG, 000874 / 0026B9 Dell, 001F29 and
# A0D3C1 Hewlett Packard, 50C7BF TP-Link.
SW_PORT = mac("00:1b:54:3a:9c:30")  # ward3-sw1, port Gi1/0/48 (LLDP/STP source)
SW_BASE = mac("00:1b:54:3a:9c:00")  # ward3-sw1 chassis / bridge MAC
FW = Host("fw", "00:09:0f:6a:11:01", "10.20.0.1", 64)  # gateway, DHCP and DNS
MONITOR = Host("monitor", "00:09:fb:5e:21:07", "10.20.0.101", 64)
PUMP = Host("pump", "9c:c8:ae:0c:02:31", "10.20.0.102", 64)
CT = Host("ct", "00:01:e3:4c:70:01", "10.20.0.103", 128)
WS = Host("ws", "00:26:b9:7e:15:03", "10.20.0.104", 128)
PLUG = Host("plug", "50:c7:bf:1a:2b:3c", "10.20.0.105", 64)
PACS = Host("pacs", "00:08:74:20:00:20", "10.20.0.20", 64)
ENGINE = Host("engine", "00:1f:29:8a:00:30", "10.20.0.30", 128)
PRINTER = Host("printer", "a0:d3:c1:4b:9e:10", "10.20.0.40", 64)
# Beyond the gateway: their packets arrive with the gateway's MAC and a routed TTL.
EHR = Host("ehr", "00:09:0f:6a:11:01", "10.10.1.20", 126)
PUMP_CLOUD = Host("pump-cloud", "00:09:0f:6a:11:01", "203.0.113.10", 52)
TPLINK_CLOUD = Host("tplink-cloud", "00:09:0f:6a:11:01", "198.51.100.7", 49)

# Destinations that are not devices.
ALL_HOSTS = Host("broadcast", BROADCAST, "255.255.255.255", 0)
SUBNET_BROADCAST = Host("subnet-broadcast", BROADCAST, "10.20.0.255", 0)
MDNS_GROUP = Host("mdns", "01:00:5e:00:00:fb", "224.0.0.251", 0)
UNSPECIFIED = ip("0.0.0.0")  # a DHCP client's source before it has an address

SUBNET_MASK = ip("255.255.255.0")
DOMAIN = b"hospital.example"


# --- framing -----------------------------------------------------------------------------
def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ethernet(dst, src, ethertype, payload):
    frame = dst + src + struct.pack("!H", ethertype) + payload
    return frame + b"\0" * max(0, 60 - len(frame))  # minimum frame, FCS not captured


def llc_frame(dst, src, llc_payload):
    """IEEE 802.3 with a length field instead of an ethertype."""
    frame = dst + src + struct.pack("!H", len(llc_payload)) + llc_payload
    return frame + b"\0" * max(0, 60 - len(frame))


def ipv4(src, dst, proto, payload, ttl, ident):
    """An IPv4 header without options, Don't Fragment set (as every stack here does)."""
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, ttl, proto, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + payload


def udp(src, dst, sport, dport, payload):
    length = 8 + len(payload)
    pseudo = src + dst + struct.pack("!BBH", 0, 17, length)
    seg = struct.pack("!HHHH", sport, dport, length, 0) + payload
    c = checksum(pseudo + seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


FIN, SYN, PSH, ACK = 0x01, 0x02, 0x08, 0x10


def tcp(src, dst, sport, dport, seq, ack, flags, payload=b"", window=64240, options=b""):
    assert len(options) % 4 == 0
    off = (20 + len(options)) // 4
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, window, 0, 0) + options + payload
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(seg))
    c = checksum(pseudo + seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def syn_options(wscale):
    # MSS 1460, NOP, window scale, NOP, NOP, SACK permitted (the Windows order).
    return struct.pack("!BBH", 2, 4, 1460) + bytes([1, 3, 3, wscale, 1, 1, 4, 2])


class Capture:
    def __init__(self):
        self.frames = []  # (ts_us, order, bytes)

    def add(self, t, frame):
        self.frames.append((BASE_US + round(t * 1_000_000), len(self.frames), frame))

    def ip_frame(self, t, src, dst, proto, payload, ttl=None, src_ip=None):
        packet = ipv4(src_ip or src.ip, dst.ip, proto, payload, ttl or src.ttl, src.next_id())
        self.add(t, ethernet(dst.mac, src.mac, 0x0800, packet))

    def udp_frame(self, t, src, dst, sport, dport, payload, ttl=None, src_ip=None):
        segment = udp(src_ip or src.ip, dst.ip, sport, dport, payload)
        self.ip_frame(t, src, dst, 17, segment, ttl, src_ip)

    def write(self, path):
        out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
        for ts, _, f in sorted(self.frames):
            out.append(struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(f), len(f)) + f)
        data = b"".join(out)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
        return len(self.frames), len(data)


class Tcp:
    """One TCP connection: keeps sequence numbers so every segment is consistent."""

    def __init__(self, cap, client, server, sport, dport, label):
        self.cap, self.c, self.s = cap, client, server
        self.sport, self.dport = sport, dport
        self.cseq = det_int("isn/c/" + label)
        self.sseq = det_int("isn/s/" + label)
        # Windows scales its window by 2^8, Linux and embedded stacks by 2^7.
        self.c_wscale = 8 if client.ttl == 128 else 7
        self.s_wscale = 8 if server.ttl >= 65 else 7

    def _send(self, t, from_client, flags, payload=b"", options=b""):
        a, b = (self.c, self.s) if from_client else (self.s, self.c)
        sp, dp = (self.sport, self.dport) if from_client else (self.dport, self.sport)
        seq = self.cseq if from_client else self.sseq
        ack = self.sseq if from_client else self.cseq
        window = 1026 if from_client else 501  # scaled windows after the handshake
        if flags & SYN:
            window = 64240 if from_client else 65160
        seg = tcp(a.ip, b.ip, sp, dp, seq, ack if flags & ACK else 0, flags, payload, window, options)
        self.cap.ip_frame(t, a, b, 6, seg)
        n = len(payload) + (1 if flags & (SYN | FIN) else 0)
        if from_client:
            self.cseq = (self.cseq + n) & 0xFFFFFFFF
        else:
            self.sseq = (self.sseq + n) & 0xFFFFFFFF

    def handshake(self, t, rtt=0.0004):
        self._send(t, True, SYN, options=syn_options(self.c_wscale))
        self._send(t + rtt, False, SYN | ACK, options=syn_options(self.s_wscale))
        self._send(t + rtt + 0.00005, True, ACK)
        return t + rtt + 0.00005

    def client(self, t, data):
        self._send(t, True, PSH | ACK, data)

    def server(self, t, data):
        self._send(t, False, PSH | ACK, data)

    def client_ack(self, t):
        self._send(t, True, ACK)

    def server_ack(self, t):
        self._send(t, False, ACK)

    def close(self, t, rtt=0.0004):
        """Client closes: FIN/ACK, FIN/ACK, ACK."""
        self._send(t, True, FIN | ACK)
        self._send(t + rtt, False, FIN | ACK)
        self._send(t + rtt + 0.00005, True, ACK)


# --- layer 2 -----------------------------------------------------------------------------
def stp_bpdu():
    """Rapid STP BPDU from ward3-sw1 port 48; the root is a core switch elsewhere."""
    root = struct.pack("!H", 0x6001) + mac("00:1b:54:0c:c0:00")
    bridge = struct.pack("!H", 0x8001) + SW_BASE
    bpdu = (
        struct.pack("!HBBB", 0, 2, 2, 0x3C)  # protocol 0, version 2 (RSTP), type RST, designated+fwd+learn
        + root
        + struct.pack("!I", 4)  # root path cost
        + bridge
        + struct.pack("!HHHHHB", 0x8030, 1 * 256, 20 * 256, 2 * 256, 15 * 256, 0)
    )
    return llc_frame(mac("01:80:c2:00:00:00"), SW_PORT, bytes([0x42, 0x42, 0x03]) + bpdu)


def lldp_tlv(t, value):
    return struct.pack("!H", (t << 9) | len(value)) + value


def lldp(src, chassis, port_id, port_descr, sys_name, sys_descr, caps, enabled, mgmt_ip):
    mgmt = bytes([5, 1]) + mgmt_ip + bytes([2]) + struct.pack("!I", 1) + bytes([0])
    body = b"".join(
        [
            lldp_tlv(1, bytes([4]) + chassis),
            lldp_tlv(2, bytes([5]) + port_id),
            lldp_tlv(3, struct.pack("!H", 120)),
            lldp_tlv(4, port_descr),
            lldp_tlv(5, sys_name),
            lldp_tlv(6, sys_descr),
            lldp_tlv(7, struct.pack("!HH", caps, enabled)),
            lldp_tlv(8, mgmt),
            lldp_tlv(0, b""),
        ]
    )
    return ethernet(mac("01:80:c2:00:00:0e"), src, 0x88CC, body)


def arp(op, sender_mac, sender_ip, target_mac, target_ip):
    body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + sender_mac + sender_ip + target_mac + target_ip
    dst = mac(BROADCAST) if op == 1 else target_mac
    return ethernet(dst, sender_mac, 0x0806, body)


def arp_exchange(cap, t, asker, target):
    cap.add(t, arp(1, asker.mac, asker.ip, b"\0" * 6, target.ip))
    cap.add(t + 0.0003, arp(2, target.mac, target.ip, asker.mac, asker.ip))


# --- DHCP --------------------------------------------------------------------------------
def dhcp_opt(code, value):
    return bytes([code, len(value)]) + value


def bootp(op, xid, chaddr, options, ciaddr=b"\0" * 4, yiaddr=b"\0" * 4, siaddr=b"\0" * 4, secs=0):
    msg = (
        struct.pack("!BBBBIHH", op, 1, 6, 0, xid, secs, 0)
        + ciaddr
        + yiaddr
        + siaddr
        + b"\0" * 4  # giaddr
        + chaddr
        + b"\0" * 10  # chaddr padding
        + b"\0" * 64  # sname
        + b"\0" * 128  # file
        + bytes([99, 130, 83, 99])
        + options
        + b"\xff"
    )
    return msg + b"\0" * max(0, 300 - len(msg))  # BOOTP minimum size


def dora(cap, t, client, hostname, vendor_class, prl, max_size=None, client_id=True, fqdn=None):
    """DISCOVER, OFFER, REQUEST, ACK. The server unicasts to the offered address."""
    xid = det_int("xid/" + client.name)
    common = b""
    if client_id:
        common += dhcp_opt(61, b"\x01" + client.mac)
    if max_size:
        common += dhcp_opt(57, struct.pack("!H", max_size))
    ident = dhcp_opt(12, hostname)
    if vendor_class:
        ident += dhcp_opt(60, vendor_class)
    ask = dhcp_opt(55, bytes(prl))

    discover = bootp(1, xid, client.mac, dhcp_opt(53, b"\x01") + common + ident + ask, secs=0)
    cap.udp_frame(t, client, ALL_HOSTS, 68, 67, discover, src_ip=UNSPECIFIED)

    server_opts = (
        dhcp_opt(54, FW.ip)
        + dhcp_opt(51, struct.pack("!I", 86400))
        + dhcp_opt(58, struct.pack("!I", 43200))
        + dhcp_opt(59, struct.pack("!I", 75600))
        + dhcp_opt(1, SUBNET_MASK)
        + dhcp_opt(3, FW.ip)
        + dhcp_opt(6, FW.ip)
        + dhcp_opt(15, DOMAIN)
    )
    offer = bootp(2, xid, client.mac, dhcp_opt(53, b"\x02") + server_opts, yiaddr=client.ip, siaddr=FW.ip)
    cap.udp_frame(t + 0.0021, FW, client, 67, 68, offer)

    req_opts = dhcp_opt(53, b"\x03") + common + dhcp_opt(50, client.ip) + dhcp_opt(54, FW.ip) + ident
    if fqdn:
        req_opts += dhcp_opt(81, bytes([0, 0, 0]) + fqdn)
    request = bootp(1, xid, client.mac, req_opts + ask, secs=1)
    cap.udp_frame(t + 1.0042, client, ALL_HOSTS, 68, 67, request, src_ip=UNSPECIFIED)

    ack = bootp(2, xid, client.mac, dhcp_opt(53, b"\x05") + server_opts, yiaddr=client.ip, siaddr=FW.ip)
    cap.udp_frame(t + 1.0063, FW, client, 67, 68, ack)
    return t + 1.0063


# --- DNS, mDNS, NBNS ---------------------------------------------------------------------
def dns_name(name):
    out = b""
    for label in name.split(b"."):
        out += bytes([len(label)]) + label
    return out + b"\0"


def rr(name, rtype, rclass, ttl, rdata):
    return dns_name(name) + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def dns_exchange(cap, t, client, sport, qname, answer_ip, label):
    qid = det_int("dnsid/" + label, 16)
    question = dns_name(qname) + struct.pack("!HH", 1, 1)
    query = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + question
    cap.udp_frame(t, client, FW, sport, 53, query)
    answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + ip(answer_ip)
    response = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + answer
    cap.udp_frame(t + 0.0018, FW, client, 53, sport, response)


def mdns_printer_announcement():
    host = b"HPA0D3C14B9E10.local"
    txt_items = [
        b"txtvers=1",
        b"qtotal=1",
        b"rp=ipp/print",
        b"ty=HP LaserJet Enterprise M507",
        b"product=(HP LaserJet Enterprise M507)",
        b"pdl=application/pdf,image/urf,application/PCLm",
        b"note=Ward 3 nurses station",
    ]
    txt = b"".join(bytes([len(i)]) + i for i in txt_items)
    records = []
    for svc, port in ((b"_ipp._tcp.local", 631), (b"_pdl-datastream._tcp.local", 9100)):
        inst = b"Ward3 Printer." + svc
        records.append(rr(svc, 12, 1, 4500, dns_name(inst)))
        records.append(rr(inst, 33, 0x8001, 120, struct.pack("!HHH", 0, 0, port) + dns_name(host)))
        records.append(rr(inst, 16, 0x8001, 4500, txt))
    records.append(rr(host, 1, 0x8001, 120, PRINTER.ip))
    return struct.pack("!HHHHHH", 0, 0x8400, 0, len(records), 0, 0) + b"".join(records)


def nb_encode(name, suffix):
    raw = name.ljust(15, b" ") + bytes([suffix])
    return bytes([32]) + b"".join(bytes([0x41 + (c >> 4), 0x41 + (c & 0xF)]) for c in raw) + b"\0"


def nbns_registration(host, name):
    qid = det_int("nbns/" + host.name, 16)
    q = nb_encode(name, 0x00) + struct.pack("!HH", 0x20, 1)
    add = b"\xc0\x0c" + struct.pack("!HHIH", 0x20, 1, 300000, 6) + struct.pack("!H", 0) + host.ip
    # Opcode 5 (registration), RD, broadcast.
    return struct.pack("!HHHHHH", qid, 0x2910, 1, 0, 0, 1) + q + add


# --- SNMP (BER) --------------------------------------------------------------------------
def ber(tag, value):
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    elif n < 0x100:
        length = bytes([0x81, n])
    else:
        length = bytes([0x82]) + struct.pack("!H", n)
    return bytes([tag]) + length + value


def ber_int(v):
    return ber(0x02, v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big"))


SYS_DESCR = bytes([0x2B, 6, 1, 2, 1, 1, 1, 0])
SYS_NAME = bytes([0x2B, 6, 1, 2, 1, 1, 5, 0])


def snmp(pdu_tag, request_id, varbinds):
    vbs = b"".join(ber(0x30, ber(0x06, oid) + value) for oid, value in varbinds)
    pdu = ber(pdu_tag, ber_int(request_id) + ber_int(0) + ber_int(0) + ber(0x30, vbs))
    return ber(0x30, ber_int(1) + ber(0x04, b"public") + pdu)  # v2c


# --- TLS ---------------------------------------------------------------------------------
def ext(t, data):
    return struct.pack("!HH", t, len(data)) + data


def client_hello(label, sni, hello_version, ciphers, extensions):
    sid = det(label + "/sid", 32)
    body = (
        struct.pack("!H", hello_version)
        + det(label + "/random", 32)
        + bytes([len(sid)])
        + sid
        + struct.pack("!H", 2 * len(ciphers))
        + b"".join(struct.pack("!H", c) for c in ciphers)
        + b"\x01\x00"  # null compression only
    )
    exts = b""
    for e in extensions:
        if e == "sni":
            entry = b"\x00" + struct.pack("!H", len(sni)) + sni
            exts += ext(0, struct.pack("!H", len(entry)) + entry)
        else:
            exts += e
    body += struct.pack("!H", len(exts)) + exts
    hs = bytes([1]) + len(body).to_bytes(3, "big") + body
    return bytes([22, 3, 1]) + struct.pack("!H", len(hs)) + hs


def u16_list(values, width=2):
    data = b"".join(struct.pack("!H", v) for v in values)
    return len(data).to_bytes(width, "big") + data


# --- DICOM upper layer (PS3.8) -----------------------------------------------------------
def ul_item(t, value):
    return struct.pack("!BBH", t, 0, len(value)) + value


APP_CONTEXT = b"1.2.840.10008.3.1.1.1"
CT_IMAGE_STORAGE = b"1.2.840.10008.5.1.4.1.1.2"
VERIFICATION = b"1.2.840.10008.1.1"
EXPLICIT_LE = b"1.2.840.10008.1.2.1"
IMPLICIT_LE = b"1.2.840.10008.1.2"
# A UUID-derived UID (2.25.<uuid as an integer>, PS3.5 B.2): needs no registered root.
CT_IMPL_UID = b"2.25." + str(det_int("ct-impl-uid", 128)).encode()
CT_IMPL_VERSION = b"WARD_CT_VR10A"
PACS_IMPL_UID = b"2.25." + str(det_int("pacs-impl-uid", 128)).encode()
PACS_IMPL_VERSION = b"WARD_PACS_7.2"


def ae(title):
    return title.ljust(16, b" ")


def user_info(uid, version):
    return ul_item(
        0x50, ul_item(0x51, struct.pack("!I", 65536)) + ul_item(0x52, uid) + ul_item(0x55, version)
    )


def associate_rq(called, calling):
    pcs = b""
    for pc_id, abstract in ((1, CT_IMAGE_STORAGE), (3, VERIFICATION)):
        subs = ul_item(0x30, abstract) + ul_item(0x40, EXPLICIT_LE) + ul_item(0x40, IMPLICIT_LE)
        pcs += ul_item(0x20, bytes([pc_id, 0, 0, 0]) + subs)
    body = (
        struct.pack("!HH", 1, 0)
        + ae(called)
        + ae(calling)
        + b"\0" * 32
        + ul_item(0x10, APP_CONTEXT)
        + pcs
        + user_info(CT_IMPL_UID, CT_IMPL_VERSION)
    )
    return struct.pack("!BBI", 1, 0, len(body)) + body


def associate_ac(called, calling):
    pcs = b""
    for pc_id, ts in ((1, EXPLICIT_LE), (3, IMPLICIT_LE)):
        pcs += ul_item(0x21, bytes([pc_id, 0, 0, 0]) + ul_item(0x40, ts))
    body = (
        struct.pack("!HH", 1, 0)
        + ae(called)  # echoed from the request (PS3.8 9.3.3)
        + ae(calling)
        + b"\0" * 32
        + ul_item(0x10, APP_CONTEXT)
        + pcs
        + user_info(PACS_IMPL_UID, PACS_IMPL_VERSION)
    )
    return struct.pack("!BBI", 2, 0, len(body)) + body


def dimse_element(group, elem, value):
    return struct.pack("<HHI", group, elem, len(value)) + value


def c_echo(response):
    """A C-ECHO command set (implicit VR little endian) in a P-DATA-TF PDU."""
    els = dimse_element(0, 0x0002, VERIFICATION + b"\0")
    if response:
        els += dimse_element(0, 0x0100, struct.pack("<H", 0x8030))
        els += dimse_element(0, 0x0120, struct.pack("<H", 1))
        els += dimse_element(0, 0x0800, struct.pack("<H", 0x0101))
        els += dimse_element(0, 0x0900, struct.pack("<H", 0))
    else:
        els += dimse_element(0, 0x0100, struct.pack("<H", 0x0030))
        els += dimse_element(0, 0x0110, struct.pack("<H", 1))
        els += dimse_element(0, 0x0800, struct.pack("<H", 0x0101))
    command = dimse_element(0, 0x0000, struct.pack("<I", len(els))) + els
    pdv = bytes([3, 0x03]) + command  # presentation context 3, command + last fragment
    pdv = struct.pack("!I", len(pdv)) + pdv
    return struct.pack("!BBI", 4, 0, len(pdv)) + pdv


def release(rp):
    return struct.pack("!BBII", 6 if rp else 5, 0, 4, 0)


# --- HL7 ---------------------------------------------------------------------------------
def mllp(segments):
    return b"\x0b" + b"\r".join(segments) + b"\r\x1c\r"


DEVICE_ID = b"MX450-DE00712^Philips^0009FBFFFE5E2107^EUI-64"


def oru(control_id, when, spo2, pulse):
    def obx(n, code, value, unit):
        # OBX-11 result status, OBX-14 observation time, OBX-18 equipment instance identifier.
        return b"OBX|%d|NM|%s||%s|%s|||||R|||%s||||%s" % (n, code, value, unit, when, DEVICE_ID)

    return mllp(
        [
            b"MSH|^~\\&|IntelliVue|WARD3|HL7ENGINE|HOSPITAL|%s||ORU^R01^ORU_R01|%s|P|2.6|||NE|AL" % (when, control_id),
            b"PID|||TEST0001^^^HOSPITAL^MR||TEST^PATIENT||19700101|U",
            b"PV1||I|WARD3^^BED07",
            b"OBR|1|||69837-1^Vital signs^LN|||%s" % when,
            obx(1, b"150456^MDC_PULS_OXIM_SAT_O2^MDC", spo2, b"262688^MDC_DIM_PERCENT^MDC"),
            obx(2, b"149530^MDC_PULS_OXIM_PULS_RATE^MDC", pulse, b"264864^MDC_DIM_BEAT_PER_MIN^MDC"),
        ]
    )


def hl7_ack(control_id, when):
    return mllp(
        [
            b"MSH|^~\\&|HL7ENGINE|HOSPITAL|IntelliVue|WARD3|%s||ACK^R01^ACK|ACK%s|P|2.6" % (when, control_id),
            b"MSA|AA|%s" % control_id,
        ]
    )


# --- the scene ---------------------------------------------------------------------------
def build():
    cap = Capture()

    # Switch chatter: RSTP hellos every 2 s, LLDP every 30 s.
    for i in range(15):
        cap.add(2.0 * i + 0.0117, stp_bpdu())
    cap.add(
        0.5213,
        lldp(
            SW_PORT,
            SW_BASE,
            b"Gi1/0/48",
            b"GigabitEthernet1/0/48",
            b"ward3-sw1",
            b"Cisco IOS Software, C2960X Software (C2960X-UNIVERSALK9-M), Version 15.2(7)E8, "
            b"RELEASE SOFTWARE (fc2)\nTechnical Support: http://www.cisco.com/techsupport\n"
            b"Copyright (c) 1986-2023 by Cisco Systems, Inc.\nCompiled Tue 24-Oct-23 12:19 by mcpre",
            0x0014,  # bridge, router
            0x0004,  # bridge enabled
            ip("10.20.0.2"),
        ),
    )
    cap.add(
        1.1302,
        lldp(
            FW.mac,
            mac("00:09:0f:6a:11:00"),
            b"internal1",
            b"internal1",
            b"ward3-fw1",
            b"FortiGate-60F v7.2.8,build1639,240313 (GA.M)",
            0x0014,
            0x0010,  # router enabled
            FW.ip,
        ),
    )

    # Static servers announce themselves.
    cap.udp_frame(1.8405, ENGINE, SUBNET_BROADCAST, 137, 137,
                  nbns_registration(ENGINE, b"HL7ENGINE01"))
    cap.udp_frame(2.3310, PRINTER, MDNS_GROUP, 5353, 5353, mdns_printer_announcement(), ttl=255)
    cap.udp_frame(3.3322, PRINTER, MDNS_GROUP, 5353, 5353, mdns_printer_announcement(), ttl=255)

    # Patient monitor: DHCP, then HL7 ORU^R01 over MLLP to the engine (persistent link).
    t = dora(cap, 5.0031, MONITOR, b"MX450-bed07", b"Philips IntelliVue MX450", [1, 3, 6, 12, 15, 28, 42, 51],
             max_size=576, client_id=False)
    arp_exchange(cap, t + 0.41, MONITOR, ENGINE)
    hl7 = Tcp(cap, MONITOR, ENGINE, 49153, 2575, "hl7")
    t = hl7.handshake(t + 0.52)
    hl7.client(t + 0.0102, oru(b"MX450B07-000123", b"20261102080006", b"97", b"72"))
    hl7.server(t + 0.0231, hl7_ack(b"MX450B07-000123", b"20261102080006"))
    hl7.client_ack(t + 0.0235)

    # Infusion pump: DHCP, DNS, TLS to the vendor's update service.
    t = dora(cap, 7.2117, PUMP, b"alaris-pc-0231", b"BD Alaris PC 9.33", [1, 3, 6, 15, 28, 51, 58, 59],
             max_size=1500)
    arp_exchange(cap, t + 0.31, PUMP, FW)
    dns_exchange(cap, t + 0.32, PUMP, 1031, b"pump-updates.vendor.example", "203.0.113.10", "pump")
    tls = Tcp(cap, PUMP, PUMP_CLOUD, 1032, 443, "pump-tls")
    t2 = tls.handshake(t + 0.35, 0.0213)
    hello = client_hello(
        "pump",
        b"pump-updates.vendor.example",
        0x0303,
        [0xC02F, 0xC030, 0xC02B, 0xC02C, 0x009E, 0x009F, 0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035, 0x00FF],
        [
            "sni",
            ext(10, u16_list([0x0017, 0x0018])),
            ext(11, b"\x01\x00"),
            ext(13, u16_list([0x0401, 0x0501, 0x0601, 0x0403, 0x0503, 0x0603, 0x0201, 0x0203])),
            ext(23, b""),
        ],
    )
    tls.client(t2 + 0.0011, hello)
    tls.server_ack(t2 + 0.0225)

    # CT scanner: DHCP, then a DICOM association with the PACS (verification echo, release).
    t = dora(cap, 9.4088, CT, b"CT-SCANNER-01", b"MSFT 5.0",
             [1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252])
    arp_exchange(cap, t + 0.62, CT, PACS)
    dicom = Tcp(cap, CT, PACS, 50412, 104, "dicom")
    t = dicom.handshake(t + 0.63)
    dicom.client(t + 0.0008, associate_rq(b"PACS_MAIN", b"CT01"))
    dicom.server(t + 0.0049, associate_ac(b"PACS_MAIN", b"CT01"))
    dicom.client(t + 0.0061, c_echo(False))
    dicom.server(t + 0.0078, c_echo(True))
    dicom.client(t + 0.0093, release(False))
    dicom.server(t + 0.0101, release(True))
    dicom.close(t + 0.0109)

    # Nurse workstation: DHCP, NetBIOS name, DNS, the EHR over HTTP, printer status (SNMP, 9100).
    t = dora(cap, 12.0404, WS, b"NURSE-WS-03", b"MSFT 5.0",
             [1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252], fqdn=b"NURSE-WS-03.hospital.example")
    cap.udp_frame(t + 0.21, WS, SUBNET_BROADCAST, 137, 137,
                  nbns_registration(WS, b"NURSE-WS-03"))
    arp_exchange(cap, t + 0.40, WS, FW)
    dns_exchange(cap, t + 0.41, WS, 58321, b"ehr.hospital.example", "10.10.1.20", "ws")
    web = Tcp(cap, WS, EHR, 50944, 80, "http")
    t2 = web.handshake(t + 0.42, 0.0009)
    web.client(t2 + 0.0004, (
        b"GET / HTTP/1.1\r\n"
        b"Host: ehr.hospital.example\r\n"
        b"Connection: keep-alive\r\n"
        b"Upgrade-Insecure-Requests: 1\r\n"
        b"User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        b"Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0\r\n"
        b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
        b"Accept-Encoding: gzip, deflate\r\n"
        b"Accept-Language: en-GB,en;q=0.9\r\n\r\n"
    ))
    web.server(t2 + 0.0021, (
        b"HTTP/1.1 301 Moved Permanently\r\n"
        b"Location: https://ehr.hospital.example/\r\n"
        b"Date: Mon, 02 Nov 2026 08:00:13 GMT\r\n"
        b"Content-Length: 0\r\n\r\n"
    ))
    web.close(t2 + 0.0030, 0.0009)

    arp_exchange(cap, t + 1.90, WS, PRINTER)
    req_id = det_int("snmp", 16)
    cap.udp_frame(t + 1.91, WS, PRINTER, 61234, 161,
                  snmp(0xA0, req_id, [(SYS_DESCR, b"\x05\x00"), (SYS_NAME, b"\x05\x00")]))
    cap.udp_frame(t + 1.9142, PRINTER, WS, 161, 61234, snmp(0xA2, req_id, [
        (SYS_DESCR, ber(0x04, b"HP ETHERNET MULTI-ENVIRONMENT,ROM none,JETDIRECT,JD153,EEPROM JSI24090012")),
        (SYS_NAME, ber(0x04, b"HPA0D3C14B9E10")),
    ]))
    raw = Tcp(cap, WS, PRINTER, 50951, 9100, "pjl")
    t2 = raw.handshake(t + 1.95)
    raw.client(t2 + 0.0003, b"\x1b%-12345X@PJL INFO STATUS\r\n")
    raw.server(t2 + 0.0112, b"@PJL INFO STATUS\r\nCODE=10001\r\nDISPLAY=\"Ready\"\r\nONLINE=TRUE\r\n\x0c")
    raw.close(t2 + 0.0120)

    # A smart plug someone plugged in: DHCP, DNS and TLS to its cloud.
    t = dora(cap, 17.1509, PLUG, b"HS110(EU)", b"udhcp 0.9.9-pre", [1, 3, 6, 12, 15, 28])
    arp_exchange(cap, t + 0.51, PLUG, FW)
    dns_exchange(cap, t + 0.52, PLUG, 40722, b"devs.tplinkcloud.com", "198.51.100.7", "plug")
    cloud = Tcp(cap, PLUG, TPLINK_CLOUD, 50012, 443, "plug-tls")
    t2 = cloud.handshake(t + 0.56, 0.0387)
    hello = client_hello(
        "plug",
        b"devs.tplinkcloud.com",
        0x0301,
        [0xC014, 0xC00A, 0x0039, 0x0038, 0xC00F, 0xC005, 0x0035, 0xC013, 0xC009, 0x0033, 0x0032,
         0xC00E, 0xC004, 0x002F, 0xC011, 0xC007, 0xC012, 0xC008, 0x0016, 0x0013, 0x000A, 0x00FF],
        ["sni", ext(11, b"\x03\x00\x01\x02"), ext(10, u16_list([0x0017, 0x0019, 0x0018])), ext(35, b""),
         ext(15, b"\x01")],
    )
    cloud.client(t2 + 0.0009, hello)
    cloud.server_ack(t2 + 0.0399)

    # The monitor's next result on the same MLLP link (a later segment that starts a block).
    hl7.client(21.0102, oru(b"MX450B07-000124", b"20261102080021", b"96", b"74"))
    hl7.server(21.0231, hl7_ack(b"MX450B07-000124", b"20261102080021"))
    hl7.client_ack(21.0235)

    return cap


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "samples", "ward-demo.pcap")
    frames, size = build().write(out)
    print(f"{os.path.relpath(out)}: {frames} frames, {size} bytes")


if __name__ == "__main__":
    main()
