/* snmptrap: SNMP notifications (SNMPv1 Trap-PDU, SNMPv2c SNMPv2-Trap-PDU and InformRequest-PDU)
 * into event records, as pure functions (no I/O, no clock, no globals, no net-snmp).
 *
 * - snmptrap_decode reads one UDP datagram with a strict BER decoder of its own (net-snmp's
 *   library keeps process-wide state and belongs to the probe thread), checks the community,
 *   names the trap and its variables from a built-in table of well-known OIDs, and, for an
 *   InformRequest, builds the Response-PDU the sender waits for.
 *
 * Total over arbitrary bytes: bounded memory and time, a reason with a byte offset on
 * rejection, never a crash. Allocates nothing beyond the growth of the caller's buffers. Any
 * thread; one scratch buffer (and response buffer) per thread. */
#ifndef DD_SNMPTRAP_H
#define DD_SNMPTRAP_H

#include "lib/buf.h"
#include "lib/event.h"

#include <stddef.h>
#include <stdint.h>

/* Bounds of what a datagram may hold; more is rejected as malformed. */
#define SNMPTRAP_MAX_DATAGRAM 65535 /* bytes (the largest UDP payload) */
#define SNMPTRAP_MAX_VARBINDS 256
#define SNMPTRAP_MAX_SUBIDS 128 /* sub-identifiers of one OID, each below 2^32 */
/* The title names the interface of linkUp/linkDown; longer interface names are cut (bytes,
 * at a UTF-8 boundary). */
#define SNMPTRAP_IFNAME_MAX 64

/* Scratch bytes snmptrap_decode may need for a datagram of len bytes: with a cap of at least
 * this on scratch it never fails with -E2BIG. A response never exceeds the request: a resp
 * cap of len bytes is always enough. */
#define SNMPTRAP_SCRATCH_NEED(len) (24 * (size_t)(len) + 4096)

/* Decodes one UDP datagram (data, len: any bytes) holding an SNMPv1 Trap-PDU, an SNMPv2c
 * SNMPv2-Trap-PDU or an SNMPv2c InformRequest-PDU into *ev.
 *
 * community is the community the sensor expects ("" or NULL: any); it is compared in
 * constant time and never copied into the record, its fields, err or the log. source is the
 * sender's address as the caller writes it ("10.0.0.5"; NULL or "" when unknown): it goes into
 * ev->source and names the sender in the title when the trap does not say who it is about.
 *
 * ev is first set as event_init does, then filled:
 *   kind      "trap"; t_ms = now_ms (a trap carries only the sender's uptime)
 *   app       the trap's name: "coldStart", "warmStart", "linkDown", "linkUp",
 *             "authenticationFailure", "egpNeighborLoss", a few more well-known notifications
 *             (NET-SNMP-AGENT nsNotify*, DISMAN-EVENT mteTrigger*, UPS-MIB, BGP4-MIB,
 *             ENTITY-MIB entConfigChange, CISCO-CONFIG-MAN ciscoConfigManEvent), else the
 *             numeric trap OID. A v1 trap is named by its RFC 3584 translation: generic-trap
 *             0..5 as the SNMPv2 notification (coldStart = 1.3.6.1.6.3.1.1.5.1 ...), and an
 *             enterpriseSpecific(6) trap as enterprise.0.specific, so the same trap sent as v1
 *             and as v2c gets the same app (an unknown one its numeric OID rather than the
 *             uninformative "enterpriseSpecific"; "generic" and "specific" stay in fields).
 *   severity  linkDown, authenticationFailure, egpNeighborLoss, nsNotifyShutdown,
 *             upsTrapOnBattery, upsTrapAlarmEntryAdded, bgpBackwardTransition(Notification),
 *             mteTriggerFired/Rising/Failure, mteEventSetFailure: warning;
 *             coldStart, warmStart, linkUp, nsNotifyStart/Restart, upsTrapAlarmEntryRemoved,
 *             bgpEstablished(Notification), mteTriggerFalling: notice; everything else: info.
 *   host      who the trap is about: the v1 agent-addr (unless 0.0.0.0), else the value of an
 *             snmpTrapAddress.0 varbind (a proxy's RFC 3584 translation), else a printable
 *             sysName.0 varbind, else "" (the caller then matches the sender's address).
 *   title     "<app> from <host or source>" (just "<app>" when both are ""); for linkUp and
 *             linkDown followed by " on <interface>", the interface being the ifName, else the
 *             ifDescr, else "ifIndex N" (from ifIndex or any ifTable/ifXTable column's
 *             instance), with " (<ifAlias>)" when there is one; one line.
 *   text      one line per payload varbind, "name = value" ('\n' between lines): names from the
 *             table as "ifIndex.3" (longest known prefix plus the rest), unknown OIDs numeric;
 *             OID values named the same way; TimeTicks with a readable duration; CR, LF and TAB
 *             inside strings shown as spaces.
 *   fields    a JSON object: "version" ("v1"|"v2c"), "pdu" ("trap"|"inform"), "request_id"
 *             (v2c), "trap_oid" (numeric), "enterprise" (v1 enterprise or v2c
 *             snmpTrapEnterprise.0, numeric), "agent_addr", "generic", "specific" (v1),
 *             "uptime" (TimeTicks, hundredths of a second, when the trap carries it), and
 *             "varbinds": [{"oid","name","type","value"}] with every value a string (Counter64
 *             exceeds what JSON numbers hold exactly). The payload varbinds are all of a v1
 *             trap's and those of a v2c one but sysUpTime.0 and snmpTrapOID.0 (in "uptime"
 *             and "trap_oid"). Types: INTEGER, OCTET STRING, NULL, OBJECT IDENTIFIER,
 *             IpAddress, Counter32, Gauge32, TimeTicks, UInteger32, Counter64, Opaque (net-snmp's
 *             wrapped values decoded as "Opaque Float|Double|Int64|UInt64|Counter64"),
 *             noSuchObject, noSuchInstance, endOfMibView. An OCTET STRING is its text when
 *             it is valid UTF-8 without control characters other than TAB, CR and LF (trailing
 *             NULs, which some agents send, ignored), else "0x" and lowercase hex; NULL and
 *             the exceptions have the value "". The value of an snmpTrapCommunity.0 varbind
 *             is replaced by "(redacted)".
 *   source    a copy of source.
 * sensor_id, recv_ms and device_id are left for the caller. Strings in *ev point into scratch,
 * which the call resets and owns: they stay valid until scratch is next reset, written or
 * freed. *ev is untouched on failure.
 *
 * BER is read strictly: definite lengths of at most 4 bytes, each within its container, no
 * bytes after the message or between its parts; integers of at most 64 bits (Counter32,
 * Gauge32, TimeTicks below 2^32; an unsigned value encoded in its full width without the
 * leading zero byte, a common agent bug, is read as unsigned); OIDs of 1 to
 * SNMPTRAP_MAX_SUBIDS minimally encoded sub-identifiers; IpAddress of 4 bytes; NULL and
 * exceptions empty; at most SNMPTRAP_MAX_VARBINDS varbinds; constructed values are refused (so
 * nesting is bounded by the PDU's shape). A v2c notification must carry snmpTrapOID.0.
 *
 * resp (NULL: not wanted) is reset; for an InformRequest it receives the Response-PDU datagram
 * to send back to the sender: same version, community, request-id and varbinds, error-status
 * and error-index 0 (what snmptrapd answers, byte for byte). It stays empty for traps and on
 * any failure.
 *
 * Returns 0; -EACCES when the community is not the expected one (nothing filled, no
 * response); -EPROTONOSUPPORT for SNMPv3 and versions other than 1 and 2c; -EINVAL for
 * malformed BER or a PDU that is not a notification; -E2BIG or -ENOMEM when scratch or resp
 * cannot hold the result (see SNMPTRAP_SCRATCH_NEED). On failure err (when errcap > 0) holds a
 * one-line reason, "byte N: ..." for malformed input. */
int snmptrap_decode(const unsigned char *data, size_t len, const char *community,
                    const char *source, int64_t now_ms, buf *scratch, event *ev, buf *resp,
                    char *err, size_t errcap);

#endif
