/* test_snmptrap: SNMP notifications into events. Real datagrams captured from net-snmp 5.9.3's
 * snmptrap and snmpinform (v1 and v2c traps, informs, a v3 trap) with every member of the record
 * checked; inform responses compared byte for byte with what snmptrapd answered to the same
 * datagrams; communities; values of every type and their text and JSON forms; OID names by
 * prefix; titles of linkUp/linkDown; hostile input (truncation at every byte, every byte
 * changed, indefinite and 5-byte lengths, huge OIDs and integers, 1000 varbinds, 10,000 nested
 * SEQUENCEs, garbage); allocation failure and buffer caps. No test reads the clock. DD_BENCH=1
 * prints the decode rate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "wire/snmptrap.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOW_MS 1781524800000LL /* 2026-06-15T12:00:00Z: the receipt time of every case */
#define SRC "10.9.8.7"         /* the sender address every case passes */

/* Datagrams captured on 127.0.0.1 from net-snmp 5.9.3 (MIBS unset, numeric OIDs):
 *   v1_coldstart  snmptrap -v 1 -c public H 1.3.6.1.4.1.8072.3.2.10 192.0.2.11 0 0 5
 *   v1_linkdown   snmptrap -v 1 -c public H 1.3.6.1.4.1.8072.3.2.10 192.0.2.10 2 0 123456
 *                   ifIndex.3 i 3  ifDescr.3 s eth2  ifAdminStatus.3 i 1  ifOperStatus.3 i 2
 *   v1_specific   snmptrap -v 1 -c s3cret H 1.3.6.1.4.1.8072.2.3 198.51.100.7 6 17 4242
 *                   ....2.3.2.1 i 42  ....2.3.2.2 s "Disk full on /var"
 *   v2c_linkup    snmptrap -v 2c -c public H 987654 linkUp ifIndex.2 i 2 ifAdminStatus.2 i 1
 *                   ifOperStatus.2 i 1  ifName.2 s Gi0/2
 *   v2c_authfail  snmptrap -v 2c -c public H 100 authenticationFailure
 *   v2c_types     snmptrap -v 2c -c public H 4200 1.3.6.1.4.1.8072.2.3.0.1 with i -17,
 *                   u 4294967295, c 12345, t 360000, a 10.1.2.3, o coldStart, x "00 ff 10 7f",
 *                   s "héllo wörld", n, U 18446744073709551615, I -5, b "1 3"
 *   v2c_inform    snmpinform -v 2c -c public H 555 linkDown ifIndex.7 i 7 ifDescr.7 s eth7
 *                   ifAdminStatus.7 i 1 ifOperStatus.7 i 2
 *   v2c_inform_big  snmpinform -v 2c -c private H 4200 nsNotifyRestart sysName.0 s
 *                   core-sw1.example.net  sysDescr.0 s "Cisco IOS ...\r\nTechnical Support: ..."
 *                   1.3.6.1.4.1.8072.2.3.2.1 x "01 02 .. 64"
 *   v2c_proxied   snmptrap -v 2c -c public H 3000 1.3.6.1.4.1.9.0.1 snmpTrapAddress.0 a
 *                   192.0.2.99 snmpTrapCommunity.0 s topsecret snmpTrapEnterprise.0 o
 *                   1.3.6.1.4.1.9 sysName.0 s edge-rtr
 *   v2c_mte       snmptrap -v 2c -c public H 8000 mteTriggerFired with the mteHot* objects,
 *                   dskPath.1 and dskErrorMsg.1 (what snmpd's disk monitor sends)
 *   v3_trap       snmptrap -v 3 -u trapuser -l noAuthNoPriv -e 0x80001f8880e9630e00 H 42 coldStart
 * and the answers of snmptrapd 5.9.3 (disableAuthorization yes) to the two informs: */
static const unsigned char v1_coldstart[] = {
    0x30, 0x2a, 0x02, 0x01, 0x00, 0x04, 0x06, 0x70, 0x75, 0x62, 0x6c, 0x69, 0x63, 0xa4, 0x1d,
    0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xbf, 0x08, 0x03, 0x02, 0x0a, 0x40, 0x04, 0xc0,
    0x00, 0x02, 0x0b, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x43, 0x01, 0x05, 0x30, 0x00,
};
static const unsigned char v1_linkdown[] = {
    0x30, 0x73, 0x02, 0x01, 0x00, 0x04, 0x06, 0x70, 0x75, 0x62, 0x6c, 0x69, 0x63, 0xa4, 0x66,
    0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xbf, 0x08, 0x03, 0x02, 0x0a, 0x40, 0x04, 0xc0,
    0x00, 0x02, 0x0a, 0x02, 0x01, 0x02, 0x02, 0x01, 0x00, 0x43, 0x03, 0x01, 0xe2, 0x40, 0x30,
    0x47, 0x30, 0x0f, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x02, 0x02, 0x01, 0x01, 0x03,
    0x02, 0x01, 0x03, 0x30, 0x12, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x02, 0x02, 0x01,
    0x02, 0x03, 0x04, 0x04, 0x65, 0x74, 0x68, 0x32, 0x30, 0x0f, 0x06, 0x0a, 0x2b, 0x06, 0x01,
    0x02, 0x01, 0x02, 0x02, 0x01, 0x07, 0x03, 0x02, 0x01, 0x01, 0x30, 0x0f, 0x06, 0x0a, 0x2b,
    0x06, 0x01, 0x02, 0x01, 0x02, 0x02, 0x01, 0x08, 0x03, 0x02, 0x01, 0x02,
};
static const unsigned char v1_specific[] = {
    0x30, 0x5e, 0x02, 0x01, 0x00, 0x04, 0x06, 0x73, 0x33, 0x63, 0x72, 0x65, 0x74, 0xa4, 0x51, 0x06,
    0x09, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xbf, 0x08, 0x02, 0x03, 0x40, 0x04, 0xc6, 0x33, 0x64, 0x07,
    0x02, 0x01, 0x06, 0x02, 0x01, 0x11, 0x43, 0x02, 0x10, 0x92, 0x30, 0x34, 0x30, 0x10, 0x06, 0x0b,
    0x2b, 0x06, 0x01, 0x04, 0x01, 0xbf, 0x08, 0x02, 0x03, 0x02, 0x01, 0x02, 0x01, 0x2a, 0x30, 0x20,
    0x06, 0x0b, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xbf, 0x08, 0x02, 0x03, 0x02, 0x02, 0x04, 0x11, 0x44,
    0x69, 0x73, 0x6b, 0x20, 0x66, 0x75, 0x6c, 0x6c, 0x20, 0x6f, 0x6e, 0x20, 0x2f, 0x76, 0x61, 0x72,
};
static const unsigned char v2c_linkup[] = {
    0x30, 0x81, 0x8f, 0x02, 0x01, 0x01, 0x04, 0x06, 0x70, 0x75, 0x62, 0x6c, 0x69, 0x63, 0xa7,
    0x81, 0x81, 0x02, 0x04, 0x5e, 0x9a, 0x42, 0x5e, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30,
    0x73, 0x30, 0x0f, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03, 0x00, 0x43, 0x03,
    0x0f, 0x12, 0x06, 0x30, 0x17, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x06, 0x03, 0x01, 0x01, 0x04,
    0x01, 0x00, 0x06, 0x09, 0x2b, 0x06, 0x01, 0x06, 0x03, 0x01, 0x01, 0x05, 0x04, 0x30, 0x0f,
    0x06, 0x0a, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x02, 0x02, 0x01, 0x01, 0x02, 0x02, 0x01, 0x02,
    0x30, 0x0f, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x02, 0x02, 0x01, 0x07, 0x02, 0x02,
    0x01, 0x01, 0x30, 0x0f, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x02, 0x02, 0x01, 0x08,
    0x02, 0x02, 0x01, 0x01, 0x30, 0x14, 0x06, 0x0b, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x1f, 0x01,
    0x01, 0x01, 0x01, 0x02, 0x04, 0x05, 0x47, 0x69, 0x30, 0x2f, 0x32,
};
static const unsigned char v2c_authfail[] = {
    0x30, 0x43, 0x02, 0x01, 0x01, 0x04, 0x06, 0x70, 0x75, 0x62, 0x6c, 0x69, 0x63, 0xa7,
    0x36, 0x02, 0x04, 0x60, 0x8c, 0x02, 0x53, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30,
    0x28, 0x30, 0x0d, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03, 0x00, 0x43,
    0x01, 0x64, 0x30, 0x17, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x06, 0x03, 0x01, 0x01, 0x04,
    0x01, 0x00, 0x06, 0x09, 0x2b, 0x06, 0x01, 0x06, 0x03, 0x01, 0x01, 0x05, 0x05,
};
static const unsigned char v2c_types[] = {
    0x30, 0x82, 0x01, 0x50, 0x02, 0x01, 0x01, 0x04, 0x06, 0x70, 0x75, 0x62, 0x6c, 0x69, 0x63, 0xa7,
    0x82, 0x01, 0x41, 0x02, 0x04, 0x60, 0x7d, 0x77, 0x5e, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30,
    0x82, 0x01, 0x31, 0x30, 0x0e, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03, 0x00, 0x43,
    0x02, 0x10, 0x68, 0x30, 0x19, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x06, 0x03, 0x01, 0x01, 0x04, 0x01,
    0x00, 0x06, 0x0b, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xbf, 0x08, 0x02, 0x03, 0x00, 0x01, 0x30, 0x10,
    0x06, 0x0b, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xbf, 0x08, 0x02, 0x03, 0x02, 0x01, 0x02, 0x01, 0xef,
    0x30, 0x14, 0x06, 0x0b, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xbf, 0x08, 0x02, 0x03, 0x02, 0x02, 0x42,
    0x05, 0x00, 0xff, 0xff, 0xff, 0xff, 0x30, 0x11, 0x06, 0x0b, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xbf,
    0x08, 0x02, 0x03, 0x02, 0x03, 0x41, 0x02, 0x30, 0x39, 0x30, 0x12, 0x06, 0x0b, 0x2b, 0x06, 0x01,
    0x04, 0x01, 0xbf, 0x08, 0x02, 0x03, 0x02, 0x04, 0x43, 0x03, 0x05, 0x7e, 0x40, 0x30, 0x13, 0x06,
    0x0b, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xbf, 0x08, 0x02, 0x03, 0x02, 0x05, 0x40, 0x04, 0x0a, 0x01,
    0x02, 0x03, 0x30, 0x18, 0x06, 0x0b, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xbf, 0x08, 0x02, 0x03, 0x02,
    0x06, 0x06, 0x09, 0x2b, 0x06, 0x01, 0x06, 0x03, 0x01, 0x01, 0x05, 0x01, 0x30, 0x13, 0x06, 0x0b,
    0x2b, 0x06, 0x01, 0x04, 0x01, 0xbf, 0x08, 0x02, 0x03, 0x02, 0x07, 0x04, 0x04, 0x00, 0xff, 0x10,
    0x7f, 0x30, 0x1c, 0x06, 0x0b, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xbf, 0x08, 0x02, 0x03, 0x02, 0x08,
    0x04, 0x0d, 0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f, 0x20, 0x77, 0xc3, 0xb6, 0x72, 0x6c, 0x64, 0x30,
    0x0f, 0x06, 0x0b, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xbf, 0x08, 0x02, 0x03, 0x02, 0x09, 0x05, 0x00,
    0x30, 0x1b, 0x06, 0x0b, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xbf, 0x08, 0x02, 0x03, 0x02, 0x0a, 0x44,
    0x0c, 0x9f, 0x7b, 0x09, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x30, 0x13, 0x06,
    0x0b, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xbf, 0x08, 0x02, 0x03, 0x02, 0x0b, 0x44, 0x04, 0x9f, 0x7a,
    0x01, 0xfb, 0x30, 0x10, 0x06, 0x0b, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xbf, 0x08, 0x02, 0x03, 0x02,
    0x0c, 0x04, 0x01, 0x50,
};
static const unsigned char v2c_inform[] = {
    0x30, 0x81, 0x8b, 0x02, 0x01, 0x01, 0x04, 0x06, 0x70, 0x75, 0x62, 0x6c, 0x69, 0x63, 0xa6, 0x7e,
    0x02, 0x04, 0x63, 0xa3, 0x3a, 0xb4, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x70, 0x30, 0x0e,
    0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03, 0x00, 0x43, 0x02, 0x02, 0x2b, 0x30, 0x17,
    0x06, 0x0a, 0x2b, 0x06, 0x01, 0x06, 0x03, 0x01, 0x01, 0x04, 0x01, 0x00, 0x06, 0x09, 0x2b, 0x06,
    0x01, 0x06, 0x03, 0x01, 0x01, 0x05, 0x03, 0x30, 0x0f, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x02, 0x01,
    0x02, 0x02, 0x01, 0x01, 0x07, 0x02, 0x01, 0x07, 0x30, 0x12, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x02,
    0x01, 0x02, 0x02, 0x01, 0x02, 0x07, 0x04, 0x04, 0x65, 0x74, 0x68, 0x37, 0x30, 0x0f, 0x06, 0x0a,
    0x2b, 0x06, 0x01, 0x02, 0x01, 0x02, 0x02, 0x01, 0x07, 0x07, 0x02, 0x01, 0x01, 0x30, 0x0f, 0x06,
    0x0a, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x02, 0x02, 0x01, 0x08, 0x07, 0x02, 0x01, 0x02,
};
static const unsigned char v2c_inform_resp_netsnmp[] = {
    0x30, 0x81, 0x8b, 0x02, 0x01, 0x01, 0x04, 0x06, 0x70, 0x75, 0x62, 0x6c, 0x69, 0x63, 0xa2, 0x7e,
    0x02, 0x04, 0x63, 0xa3, 0x3a, 0xb4, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x70, 0x30, 0x0e,
    0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03, 0x00, 0x43, 0x02, 0x02, 0x2b, 0x30, 0x17,
    0x06, 0x0a, 0x2b, 0x06, 0x01, 0x06, 0x03, 0x01, 0x01, 0x04, 0x01, 0x00, 0x06, 0x09, 0x2b, 0x06,
    0x01, 0x06, 0x03, 0x01, 0x01, 0x05, 0x03, 0x30, 0x0f, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x02, 0x01,
    0x02, 0x02, 0x01, 0x01, 0x07, 0x02, 0x01, 0x07, 0x30, 0x12, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x02,
    0x01, 0x02, 0x02, 0x01, 0x02, 0x07, 0x04, 0x04, 0x65, 0x74, 0x68, 0x37, 0x30, 0x0f, 0x06, 0x0a,
    0x2b, 0x06, 0x01, 0x02, 0x01, 0x02, 0x02, 0x01, 0x07, 0x07, 0x02, 0x01, 0x01, 0x30, 0x0f, 0x06,
    0x0a, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x02, 0x02, 0x01, 0x08, 0x07, 0x02, 0x01, 0x02,
};
static const unsigned char v2c_inform_big[] = {
    0x30, 0x82, 0x01, 0x47, 0x02, 0x01, 0x01, 0x04, 0x07, 0x70, 0x72, 0x69, 0x76, 0x61, 0x74, 0x65,
    0xa6, 0x82, 0x01, 0x37, 0x02, 0x04, 0x53, 0xed, 0xd1, 0xeb, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00,
    0x30, 0x82, 0x01, 0x27, 0x30, 0x0e, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03, 0x00,
    0x43, 0x02, 0x10, 0x68, 0x30, 0x18, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x06, 0x03, 0x01, 0x01, 0x04,
    0x01, 0x00, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xbf, 0x08, 0x04, 0x00, 0x03, 0x30, 0x20,
    0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x05, 0x00, 0x04, 0x14, 0x63, 0x6f, 0x72, 0x65,
    0x2d, 0x73, 0x77, 0x31, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6e, 0x65, 0x74,
    0x30, 0x64, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, 0x04, 0x58, 0x43, 0x69,
    0x73, 0x63, 0x6f, 0x20, 0x49, 0x4f, 0x53, 0x20, 0x53, 0x6f, 0x66, 0x74, 0x77, 0x61, 0x72, 0x65,
    0x2c, 0x20, 0x43, 0x33, 0x37, 0x35, 0x30, 0x45, 0x20, 0x53, 0x6f, 0x66, 0x74, 0x77, 0x61, 0x72,
    0x65, 0x0d, 0x0a, 0x54, 0x65, 0x63, 0x68, 0x6e, 0x69, 0x63, 0x61, 0x6c, 0x20, 0x53, 0x75, 0x70,
    0x70, 0x6f, 0x72, 0x74, 0x3a, 0x20, 0x68, 0x74, 0x74, 0x70, 0x3a, 0x2f, 0x2f, 0x77, 0x77, 0x77,
    0x2e, 0x63, 0x69, 0x73, 0x63, 0x6f, 0x2e, 0x63, 0x6f, 0x6d, 0x2f, 0x74, 0x65, 0x63, 0x68, 0x73,
    0x75, 0x70, 0x70, 0x6f, 0x72, 0x74, 0x30, 0x73, 0x06, 0x0b, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xbf,
    0x08, 0x02, 0x03, 0x02, 0x01, 0x04, 0x64, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
    0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19,
    0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29,
    0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
    0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
    0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59,
    0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62, 0x63, 0x64,
};
static const unsigned char v2c_inform_big_resp_netsnmp[] = {
    0x30, 0x82, 0x01, 0x47, 0x02, 0x01, 0x01, 0x04, 0x07, 0x70, 0x72, 0x69, 0x76, 0x61, 0x74, 0x65,
    0xa2, 0x82, 0x01, 0x37, 0x02, 0x04, 0x53, 0xed, 0xd1, 0xeb, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00,
    0x30, 0x82, 0x01, 0x27, 0x30, 0x0e, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03, 0x00,
    0x43, 0x02, 0x10, 0x68, 0x30, 0x18, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x06, 0x03, 0x01, 0x01, 0x04,
    0x01, 0x00, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xbf, 0x08, 0x04, 0x00, 0x03, 0x30, 0x20,
    0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x05, 0x00, 0x04, 0x14, 0x63, 0x6f, 0x72, 0x65,
    0x2d, 0x73, 0x77, 0x31, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6e, 0x65, 0x74,
    0x30, 0x64, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, 0x04, 0x58, 0x43, 0x69,
    0x73, 0x63, 0x6f, 0x20, 0x49, 0x4f, 0x53, 0x20, 0x53, 0x6f, 0x66, 0x74, 0x77, 0x61, 0x72, 0x65,
    0x2c, 0x20, 0x43, 0x33, 0x37, 0x35, 0x30, 0x45, 0x20, 0x53, 0x6f, 0x66, 0x74, 0x77, 0x61, 0x72,
    0x65, 0x0d, 0x0a, 0x54, 0x65, 0x63, 0x68, 0x6e, 0x69, 0x63, 0x61, 0x6c, 0x20, 0x53, 0x75, 0x70,
    0x70, 0x6f, 0x72, 0x74, 0x3a, 0x20, 0x68, 0x74, 0x74, 0x70, 0x3a, 0x2f, 0x2f, 0x77, 0x77, 0x77,
    0x2e, 0x63, 0x69, 0x73, 0x63, 0x6f, 0x2e, 0x63, 0x6f, 0x6d, 0x2f, 0x74, 0x65, 0x63, 0x68, 0x73,
    0x75, 0x70, 0x70, 0x6f, 0x72, 0x74, 0x30, 0x73, 0x06, 0x0b, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xbf,
    0x08, 0x02, 0x03, 0x02, 0x01, 0x04, 0x64, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
    0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19,
    0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29,
    0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
    0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
    0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59,
    0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62, 0x63, 0x64,
};
static const unsigned char v2c_proxied[] = {
    0x30, 0x81, 0x9b, 0x02, 0x01, 0x01, 0x04, 0x06, 0x70, 0x75, 0x62, 0x6c, 0x69, 0x63, 0xa7, 0x81,
    0x8d, 0x02, 0x04, 0x36, 0x33, 0xf5, 0x57, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x7f, 0x30,
    0x0e, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03, 0x00, 0x43, 0x02, 0x0b, 0xb8, 0x30,
    0x16, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x06, 0x03, 0x01, 0x01, 0x04, 0x01, 0x00, 0x06, 0x08, 0x2b,
    0x06, 0x01, 0x04, 0x01, 0x09, 0x00, 0x01, 0x30, 0x11, 0x06, 0x09, 0x2b, 0x06, 0x01, 0x06, 0x03,
    0x12, 0x01, 0x03, 0x00, 0x40, 0x04, 0xc0, 0x00, 0x02, 0x63, 0x30, 0x16, 0x06, 0x09, 0x2b, 0x06,
    0x01, 0x06, 0x03, 0x12, 0x01, 0x04, 0x00, 0x04, 0x09, 0x74, 0x6f, 0x70, 0x73, 0x65, 0x63, 0x72,
    0x65, 0x74, 0x30, 0x14, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x06, 0x03, 0x01, 0x01, 0x04, 0x03, 0x00,
    0x06, 0x06, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x09, 0x30, 0x14, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02,
    0x01, 0x01, 0x05, 0x00, 0x04, 0x08, 0x65, 0x64, 0x67, 0x65, 0x2d, 0x72, 0x74, 0x72,
};
static const unsigned char v2c_mte[] = {
    0x30, 0x81, 0xdd, 0x02, 0x01, 0x01, 0x04, 0x06, 0x70, 0x75, 0x62, 0x6c, 0x69, 0x63, 0xa7, 0x81,
    0xcf, 0x02, 0x04, 0x78, 0x34, 0x64, 0xc7, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x81, 0xc0,
    0x30, 0x0e, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03, 0x00, 0x43, 0x02, 0x1f, 0x40,
    0x30, 0x17, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x06, 0x03, 0x01, 0x01, 0x04, 0x01, 0x00, 0x06, 0x09,
    0x2b, 0x06, 0x01, 0x02, 0x01, 0x58, 0x02, 0x00, 0x01, 0x30, 0x15, 0x06, 0x09, 0x2b, 0x06, 0x01,
    0x02, 0x01, 0x58, 0x02, 0x01, 0x01, 0x04, 0x08, 0x64, 0x73, 0x6b, 0x54, 0x61, 0x62, 0x6c, 0x65,
    0x30, 0x0d, 0x06, 0x09, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x58, 0x02, 0x01, 0x02, 0x04, 0x00, 0x30,
    0x0d, 0x06, 0x09, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x58, 0x02, 0x01, 0x03, 0x04, 0x00, 0x30, 0x18,
    0x06, 0x09, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x58, 0x02, 0x01, 0x04, 0x06, 0x0b, 0x2b, 0x06, 0x01,
    0x04, 0x01, 0x8f, 0x65, 0x09, 0x01, 0x64, 0x01, 0x30, 0x0e, 0x06, 0x09, 0x2b, 0x06, 0x01, 0x02,
    0x01, 0x58, 0x02, 0x01, 0x05, 0x02, 0x01, 0x01, 0x30, 0x10, 0x06, 0x0b, 0x2b, 0x06, 0x01, 0x04,
    0x01, 0x8f, 0x65, 0x09, 0x01, 0x02, 0x01, 0x04, 0x01, 0x2f, 0x30, 0x24, 0x06, 0x0b, 0x2b, 0x06,
    0x01, 0x04, 0x01, 0x8f, 0x65, 0x09, 0x01, 0x65, 0x01, 0x04, 0x15, 0x2f, 0x3a, 0x20, 0x6c, 0x65,
    0x73, 0x73, 0x20, 0x74, 0x68, 0x61, 0x6e, 0x20, 0x31, 0x30, 0x25, 0x20, 0x66, 0x72, 0x65, 0x65,
};
static const unsigned char v3_trap[] = {
    0x30, 0x81, 0x8a, 0x02, 0x01, 0x03, 0x30, 0x11, 0x02, 0x04, 0x24, 0x61, 0x48, 0xad, 0x02, 0x03,
    0x00, 0xff, 0xe3, 0x04, 0x01, 0x00, 0x02, 0x01, 0x03, 0x04, 0x23, 0x30, 0x21, 0x04, 0x09, 0x80,
    0x00, 0x1f, 0x88, 0x80, 0xe9, 0x63, 0x0e, 0x00, 0x02, 0x01, 0x01, 0x02, 0x03, 0x18, 0x8a, 0xb4,
    0x04, 0x08, 0x74, 0x72, 0x61, 0x70, 0x75, 0x73, 0x65, 0x72, 0x04, 0x00, 0x04, 0x00, 0x30, 0x4d,
    0x04, 0x11, 0x80, 0x00, 0x1f, 0x88, 0x80, 0x83, 0x9a, 0x9f, 0x04, 0xd0, 0x69, 0x17, 0x6b, 0x00,
    0x00, 0x00, 0x00, 0x04, 0x00, 0xa7, 0x36, 0x02, 0x04, 0x01, 0xee, 0x14, 0xf8, 0x02, 0x01, 0x00,
    0x02, 0x01, 0x00, 0x30, 0x28, 0x30, 0x0d, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03,
    0x00, 0x43, 0x01, 0x2a, 0x30, 0x17, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x06, 0x03, 0x01, 0x01, 0x04,
    0x01, 0x00, 0x06, 0x09, 0x2b, 0x06, 0x01, 0x06, 0x03, 0x01, 0x01, 0x05, 0x01,
};

#define A(arr) arr, sizeof arr

/* ---- helpers ----------------------------------------------------------------------------- */

/* Checks what every decoded record must satisfy, whatever the input. */
static void check_invariants(const char *what, const event *ev)
{
    if (!ev->kind || strcmp(ev->kind, EVENT_KIND_TRAP))
        fail_msg("%s: kind", what);
    if (!ev->host || !ev->app || !ev->title || !ev->text || !ev->fields || !ev->source ||
        !ev->fingerprint)
        fail_msg("%s: NULL member", what);
    if (ev->severity < 0 || ev->severity > 7 || ev->facility != -1 || ev->status)
        fail_msg("%s: severity %d facility %d", what, ev->severity, ev->facility);
    if (!ev->app[0] || strchr(ev->title, '\n') || strchr(ev->title, '\r'))
        fail_msg("%s: app \"%s\" title \"%s\"", what, ev->app, ev->title);
    if (ev->t_ms != NOW_MS || ev->recv_ms || ev->sensor_id || ev->device_id || ev->fingerprint[0])
        fail_msg("%s: members for the caller were set", what);
    json_error_t je;
    json_t *j = json_loads(ev->fields, 0, &je);
    if (!j || !json_is_object(j))
        fail_msg("%s: fields not a JSON object (%s): %s", what, je.text, ev->fields);
    /* One text line per varbind of the fields. */
    size_t nvb = json_array_size(json_object_get(j, "varbinds")), lines = 0;
    if (!json_is_array(json_object_get(j, "varbinds")))
        fail_msg("%s: no varbinds array", what);
    for (const char *p = ev->text; *p; p++)
        lines += *p == '\n';
    if (nvb != (ev->text[0] ? lines + 1 : 0))
        fail_msg("%s: %zu varbinds, %zu lines of text", what, nvb, lines + 1);
    json_decref(j);
}

/* Decodes with fresh buffers of the documented sizes. */
static int decode(const unsigned char *in, size_t len, const char *community, buf *scratch,
                  event *ev, buf *resp, char *err, size_t errcap)
{
    return snmptrap_decode(in, len, community, SRC, NOW_MS, scratch, ev, resp, err, errcap);
}

/* Encodes a dotted OID ("1.3.6.1") into BER contents; returns the length. */
static size_t oid_enc(const char *dotted, unsigned char *out)
{
    uint64_t arcs[300];
    size_t n = 0;
    const char *p = dotted;
    while (*p) {
        char *end;
        arcs[n++] = strtoull(p, &end, 10);
        p = *end == '.' ? end + 1 : end;
    }
    size_t k = 0;
    for (size_t i = n >= 2 ? 1 : 0; i < n; i++) {
        uint64_t v = i == 1 ? arcs[0] * 40 + arcs[1] : arcs[i];
        unsigned char tmp[10];
        size_t t = 0;
        do {
            tmp[t++] = (unsigned char)(v & 0x7f);
            v >>= 7;
        } while (v);
        while (t > 0) {
            t--;
            out[k++] = (unsigned char)(tmp[t] | (t ? 0x80 : 0));
        }
    }
    return k;
}

/* Appends a tag and a minimal length. */
static void put_tl(buf *b, unsigned tag, size_t n)
{
    buf_putc(b, (char)tag);
    if (n < 0x80) {
        buf_putc(b, (char)n);
    } else if (n < 0x100) {
        buf_putc(b, (char)0x81);
        buf_putc(b, (char)n);
    } else if (n < 0x10000) {
        buf_putc(b, (char)0x82);
        buf_putc(b, (char)(n >> 8));
        buf_putc(b, (char)n);
    } else {
        buf_putc(b, (char)0x83);
        buf_putc(b, (char)(n >> 16));
        buf_putc(b, (char)(n >> 8));
        buf_putc(b, (char)n);
    }
}

static void put_tlv(buf *b, unsigned tag, const void *p, size_t n)
{
    put_tl(b, tag, n);
    buf_append(b, p, n);
}

/* Appends a varbind: the OID dotted, the value as raw contents with its tag. */
static void vb(buf *b, const char *oid, unsigned tag, const void *val, size_t n)
{
    unsigned char o[1500];
    size_t on = oid_enc(oid, o);
    size_t inner =
        2 + on + (on >= 0x80) + (on >= 0x100) + n + 2 + (n >= 0x80) + (n >= 0x100) + (n >= 0x10000);
    put_tl(b, 0x30, inner);
    put_tlv(b, 0x06, o, on);
    put_tlv(b, tag, val, n);
}

static void vb_str(buf *b, const char *oid, const char *s)
{
    vb(b, oid, 0x04, s, strlen(s));
}

static void vb_int(buf *b, const char *oid, unsigned char v)
{
    vb(b, oid, 0x02, &v, 1);
}

static void vb_oid(buf *b, const char *oid, const char *val)
{
    unsigned char o[1500];
    vb(b, oid, 0x06, o, oid_enc(val, o));
}

/* The two varbinds every v2c notification starts with. */
static void vb_head(buf *b, const char *trap_oid)
{
    unsigned char up[] = {0x01, 0x00};
    vb(b, "1.3.6.1.2.1.1.3.0", 0x43, up, sizeof up);
    vb_oid(b, "1.3.6.1.6.3.1.1.4.1.0", trap_oid);
}

/* A v2c message (version 1, community "public", request-id 42) of the PDU with these varbinds. */
static void v2c_msg(buf *out, unsigned pdu, const buf *vbs)
{
    buf p, m;
    buf_init(&p, 0);
    buf_init(&m, 0);
    static const unsigned char head[] = {0x02, 0x01, 0x2a, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00};
    buf_append(&p, head, sizeof head);
    put_tlv(&p, 0x30, vbs->data, vbs->len);
    static const unsigned char vc[] = {0x02, 0x01, 0x01, 0x04, 0x06, 'p', 'u', 'b', 'l', 'i', 'c'};
    buf_append(&m, vc, sizeof vc);
    put_tlv(&m, pdu, p.data, p.len);
    buf_reset(out);
    put_tlv(out, 0x30, m.data, m.len);
    buf_free(&p);
    buf_free(&m);
}

/* ---- real datagrams ---------------------------------------------------------------------- */

typedef struct rcase {
    const char *name;
    const unsigned char *in;
    size_t len;
    const char *community;
    int sev;
    const char *host, *app, *title, *text, *fields;
} rcase;

static void real_datagrams(void **state)
{
    (void)state;
    static const rcase cases[] = {
        {"v1_coldstart", A(v1_coldstart), "public", EVENT_NOTICE, "192.0.2.11", "coldStart",
         "coldStart from 192.0.2.11", "",
         "{\"version\":\"v1\",\"pdu\":\"trap\",\"trap_oid\":\"1.3.6.1.6.3.1.1.5.1\","
         "\"enterprise\":\"1.3.6.1.4.1.8072.3.2.10\",\"agent_addr\":\"192.0.2.11\","
         "\"generic\":0,\"specific\":0,\"uptime\":5,\"varbinds\":[]}"},
        {"v1_linkdown", A(v1_linkdown), "public", EVENT_WARNING, "192.0.2.10", "linkDown",
         "linkDown from 192.0.2.10 on eth2",
         "ifIndex.3 = 3\nifDescr.3 = eth2\nifAdminStatus.3 = 1\nifOperStatus.3 = 2",
         "{\"version\":\"v1\",\"pdu\":\"trap\",\"trap_oid\":\"1.3.6.1.6.3.1.1.5.3\","
         "\"enterprise\":\"1.3.6.1.4.1.8072.3.2.10\",\"agent_addr\":\"192.0.2.10\","
         "\"generic\":2,\"specific\":0,\"uptime\":123456,\"varbinds\":["
         "{\"oid\":\"1.3.6.1.2.1.2.2.1.1.3\",\"name\":\"ifIndex.3\",\"type\":\"INTEGER\","
         "\"value\":\"3\"},"
         "{\"oid\":\"1.3.6.1.2.1.2.2.1.2.3\",\"name\":\"ifDescr.3\",\"type\":\"OCTET STRING\","
         "\"value\":\"eth2\"},"
         "{\"oid\":\"1.3.6.1.2.1.2.2.1.7.3\",\"name\":\"ifAdminStatus.3\",\"type\":\"INTEGER\","
         "\"value\":\"1\"},"
         "{\"oid\":\"1.3.6.1.2.1.2.2.1.8.3\",\"name\":\"ifOperStatus.3\",\"type\":\"INTEGER\","
         "\"value\":\"2\"}]}"},
        /* RFC 3584: enterprise.0.specific, the same trap OID a v2c sender would use. */
        {"v1_specific", A(v1_specific), "s3cret", EVENT_INFO, "198.51.100.7",
         "1.3.6.1.4.1.8072.2.3.0.17", "1.3.6.1.4.1.8072.2.3.0.17 from 198.51.100.7",
         "1.3.6.1.4.1.8072.2.3.2.1 = 42\n1.3.6.1.4.1.8072.2.3.2.2 = Disk full on /var",
         "{\"version\":\"v1\",\"pdu\":\"trap\",\"trap_oid\":\"1.3.6.1.4.1.8072.2.3.0.17\","
         "\"enterprise\":\"1.3.6.1.4.1.8072.2.3\",\"agent_addr\":\"198.51.100.7\","
         "\"generic\":6,\"specific\":17,\"uptime\":4242,\"varbinds\":["
         "{\"oid\":\"1.3.6.1.4.1.8072.2.3.2.1\",\"name\":\"1.3.6.1.4.1.8072.2.3.2.1\","
         "\"type\":\"INTEGER\",\"value\":\"42\"},"
         "{\"oid\":\"1.3.6.1.4.1.8072.2.3.2.2\",\"name\":\"1.3.6.1.4.1.8072.2.3.2.2\","
         "\"type\":\"OCTET STRING\",\"value\":\"Disk full on /var\"}]}"},
        {"v2c_linkup", A(v2c_linkup), "public", EVENT_NOTICE, "", "linkUp",
         "linkUp from " SRC " on Gi0/2",
         "ifIndex.2 = 2\nifAdminStatus.2 = 1\nifOperStatus.2 = 1\nifName.2 = Gi0/2",
         "{\"version\":\"v2c\",\"pdu\":\"trap\",\"request_id\":1587167838,"
         "\"trap_oid\":\"1.3.6.1.6.3.1.1.5.4\",\"uptime\":987654,\"varbinds\":["
         "{\"oid\":\"1.3.6.1.2.1.2.2.1.1.2\",\"name\":\"ifIndex.2\",\"type\":\"INTEGER\","
         "\"value\":\"2\"},"
         "{\"oid\":\"1.3.6.1.2.1.2.2.1.7.2\",\"name\":\"ifAdminStatus.2\",\"type\":\"INTEGER\","
         "\"value\":\"1\"},"
         "{\"oid\":\"1.3.6.1.2.1.2.2.1.8.2\",\"name\":\"ifOperStatus.2\",\"type\":\"INTEGER\","
         "\"value\":\"1\"},"
         "{\"oid\":\"1.3.6.1.2.1.31.1.1.1.1.2\",\"name\":\"ifName.2\","
         "\"type\":\"OCTET STRING\",\"value\":\"Gi0/2\"}]}"},
        {"v2c_authfail", A(v2c_authfail), "", EVENT_WARNING, "", "authenticationFailure",
         "authenticationFailure from " SRC, "",
         "{\"version\":\"v2c\",\"pdu\":\"trap\",\"request_id\":1619788371,"
         "\"trap_oid\":\"1.3.6.1.6.3.1.1.5.5\",\"uptime\":100,\"varbinds\":[]}"},
        {"v2c_types", A(v2c_types), NULL, EVENT_INFO, "", "1.3.6.1.4.1.8072.2.3.0.1",
         "1.3.6.1.4.1.8072.2.3.0.1 from " SRC,
         "1.3.6.1.4.1.8072.2.3.2.1 = -17\n"
         "1.3.6.1.4.1.8072.2.3.2.2 = 4294967295\n"
         "1.3.6.1.4.1.8072.2.3.2.3 = 12345\n"
         "1.3.6.1.4.1.8072.2.3.2.4 = 360000 (1:00:00.00)\n"
         "1.3.6.1.4.1.8072.2.3.2.5 = 10.1.2.3\n"
         "1.3.6.1.4.1.8072.2.3.2.6 = coldStart\n"
         "1.3.6.1.4.1.8072.2.3.2.7 = 0x00ff107f\n"
         "1.3.6.1.4.1.8072.2.3.2.8 = h\xc3\xa9llo w\xc3\xb6rld\n"
         "1.3.6.1.4.1.8072.2.3.2.9 = NULL\n"
         "1.3.6.1.4.1.8072.2.3.2.10 = 18446744073709551615\n"
         "1.3.6.1.4.1.8072.2.3.2.11 = -5\n"
         "1.3.6.1.4.1.8072.2.3.2.12 = P",
         "{\"version\":\"v2c\",\"pdu\":\"trap\",\"request_id\":1618835294,"
         "\"trap_oid\":\"1.3.6.1.4.1.8072.2.3.0.1\",\"uptime\":4200,\"varbinds\":["
         "{\"oid\":\"1.3.6.1.4.1.8072.2.3.2.1\",\"name\":\"1.3.6.1.4.1.8072.2.3.2.1\","
         "\"type\":\"INTEGER\",\"value\":\"-17\"},"
         "{\"oid\":\"1.3.6.1.4.1.8072.2.3.2.2\",\"name\":\"1.3.6.1.4.1.8072.2.3.2.2\","
         "\"type\":\"Gauge32\",\"value\":\"4294967295\"},"
         "{\"oid\":\"1.3.6.1.4.1.8072.2.3.2.3\",\"name\":\"1.3.6.1.4.1.8072.2.3.2.3\","
         "\"type\":\"Counter32\",\"value\":\"12345\"},"
         "{\"oid\":\"1.3.6.1.4.1.8072.2.3.2.4\",\"name\":\"1.3.6.1.4.1.8072.2.3.2.4\","
         "\"type\":\"TimeTicks\",\"value\":\"360000\"},"
         "{\"oid\":\"1.3.6.1.4.1.8072.2.3.2.5\",\"name\":\"1.3.6.1.4.1.8072.2.3.2.5\","
         "\"type\":\"IpAddress\",\"value\":\"10.1.2.3\"},"
         "{\"oid\":\"1.3.6.1.4.1.8072.2.3.2.6\",\"name\":\"1.3.6.1.4.1.8072.2.3.2.6\","
         "\"type\":\"OBJECT IDENTIFIER\",\"value\":\"1.3.6.1.6.3.1.1.5.1\"},"
         "{\"oid\":\"1.3.6.1.4.1.8072.2.3.2.7\",\"name\":\"1.3.6.1.4.1.8072.2.3.2.7\","
         "\"type\":\"OCTET STRING\",\"value\":\"0x00ff107f\"},"
         "{\"oid\":\"1.3.6.1.4.1.8072.2.3.2.8\",\"name\":\"1.3.6.1.4.1.8072.2.3.2.8\","
         "\"type\":\"OCTET STRING\",\"value\":\"h\xc3\xa9llo w\xc3\xb6rld\"},"
         "{\"oid\":\"1.3.6.1.4.1.8072.2.3.2.9\",\"name\":\"1.3.6.1.4.1.8072.2.3.2.9\","
         "\"type\":\"NULL\",\"value\":\"\"},"
         "{\"oid\":\"1.3.6.1.4.1.8072.2.3.2.10\",\"name\":\"1.3.6.1.4.1.8072.2.3.2.10\","
         "\"type\":\"Opaque UInt64\",\"value\":\"18446744073709551615\"},"
         "{\"oid\":\"1.3.6.1.4.1.8072.2.3.2.11\",\"name\":\"1.3.6.1.4.1.8072.2.3.2.11\","
         "\"type\":\"Opaque Int64\",\"value\":\"-5\"},"
         "{\"oid\":\"1.3.6.1.4.1.8072.2.3.2.12\",\"name\":\"1.3.6.1.4.1.8072.2.3.2.12\","
         "\"type\":\"OCTET STRING\",\"value\":\"P\"}]}"},
        {"v2c_inform", A(v2c_inform), "public", EVENT_WARNING, "", "linkDown",
         "linkDown from " SRC " on eth7",
         "ifIndex.7 = 7\nifDescr.7 = eth7\nifAdminStatus.7 = 1\nifOperStatus.7 = 2",
         "{\"version\":\"v2c\",\"pdu\":\"inform\",\"request_id\":1671641780,"
         "\"trap_oid\":\"1.3.6.1.6.3.1.1.5.3\",\"uptime\":555,\"varbinds\":["
         "{\"oid\":\"1.3.6.1.2.1.2.2.1.1.7\",\"name\":\"ifIndex.7\",\"type\":\"INTEGER\","
         "\"value\":\"7\"},"
         "{\"oid\":\"1.3.6.1.2.1.2.2.1.2.7\",\"name\":\"ifDescr.7\",\"type\":\"OCTET STRING\","
         "\"value\":\"eth7\"},"
         "{\"oid\":\"1.3.6.1.2.1.2.2.1.7.7\",\"name\":\"ifAdminStatus.7\",\"type\":\"INTEGER\","
         "\"value\":\"1\"},"
         "{\"oid\":\"1.3.6.1.2.1.2.2.1.8.7\",\"name\":\"ifOperStatus.7\",\"type\":\"INTEGER\","
         "\"value\":\"2\"}]}"},
        /* sysName.0 names the host; CR LF inside a value: spaces in text, escapes in JSON. */
        {"v2c_inform_big", A(v2c_inform_big), "private", EVENT_NOTICE, "core-sw1.example.net",
         "nsNotifyRestart", "nsNotifyRestart from core-sw1.example.net",
         "sysName.0 = core-sw1.example.net\n"
         "sysDescr.0 = Cisco IOS Software, C3750E Software  Technical Support: "
         "http://www.cisco.com/techsupport\n"
         "1.3.6.1.4.1.8072.2.3.2.1 = 0x0102030405060708090a0b0c0d0e0f10111213141516171819"
         "1a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f4041424344"
         "45464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f6061626364",
         "{\"version\":\"v2c\",\"pdu\":\"inform\",\"request_id\":1408094699,"
         "\"trap_oid\":\"1.3.6.1.4.1.8072.4.0.3\",\"uptime\":4200,\"varbinds\":["
         "{\"oid\":\"1.3.6.1.2.1.1.5.0\",\"name\":\"sysName.0\",\"type\":\"OCTET STRING\","
         "\"value\":\"core-sw1.example.net\"},"
         "{\"oid\":\"1.3.6.1.2.1.1.1.0\",\"name\":\"sysDescr.0\",\"type\":\"OCTET STRING\","
         "\"value\":\"Cisco IOS Software, C3750E Software\\r\\nTechnical Support: "
         "http://www.cisco.com/techsupport\"},"
         "{\"oid\":\"1.3.6.1.4.1.8072.2.3.2.1\",\"name\":\"1.3.6.1.4.1.8072.2.3.2.1\","
         "\"type\":\"OCTET STRING\",\"value\":\"0x0102030405060708090a0b0c0d0e0f10111213141516"
         "1718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40"
         "4142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f6061626364\"}]}"},
        /* A proxy's translation: the original agent in snmpTrapAddress.0, the community it
         * forwarded never stored. */
        {"v2c_proxied", A(v2c_proxied), "public", EVENT_INFO, "192.0.2.99", "1.3.6.1.4.1.9.0.1",
         "1.3.6.1.4.1.9.0.1 from 192.0.2.99",
         "snmpTrapAddress.0 = 192.0.2.99\nsnmpTrapCommunity.0 = (redacted)\n"
         "snmpTrapEnterprise.0 = 1.3.6.1.4.1.9\nsysName.0 = edge-rtr",
         "{\"version\":\"v2c\",\"pdu\":\"trap\",\"request_id\":909374807,"
         "\"trap_oid\":\"1.3.6.1.4.1.9.0.1\",\"enterprise\":\"1.3.6.1.4.1.9\","
         "\"uptime\":3000,\"varbinds\":["
         "{\"oid\":\"1.3.6.1.6.3.18.1.3.0\",\"name\":\"snmpTrapAddress.0\","
         "\"type\":\"IpAddress\",\"value\":\"192.0.2.99\"},"
         "{\"oid\":\"1.3.6.1.6.3.18.1.4.0\",\"name\":\"snmpTrapCommunity.0\","
         "\"type\":\"OCTET STRING\",\"value\":\"(redacted)\"},"
         "{\"oid\":\"1.3.6.1.6.3.1.1.4.3.0\",\"name\":\"snmpTrapEnterprise.0\","
         "\"type\":\"OBJECT IDENTIFIER\",\"value\":\"1.3.6.1.4.1.9\"},"
         "{\"oid\":\"1.3.6.1.2.1.1.5.0\",\"name\":\"sysName.0\",\"type\":\"OCTET STRING\","
         "\"value\":\"edge-rtr\"}]}"},
        {"v2c_mte", A(v2c_mte), "public", EVENT_WARNING, "", "mteTriggerFired",
         "mteTriggerFired from " SRC,
         "mteHotTrigger = dskTable\nmteHotTargetName = \nmteHotContextName = \n"
         "mteHotOID = dskErrorFlag.1\nmteHotValue = 1\ndskPath.1 = /\n"
         "dskErrorMsg.1 = /: less than 10% free",
         "{\"version\":\"v2c\",\"pdu\":\"trap\",\"request_id\":2016699591,"
         "\"trap_oid\":\"1.3.6.1.2.1.88.2.0.1\",\"uptime\":8000,\"varbinds\":["
         "{\"oid\":\"1.3.6.1.2.1.88.2.1.1\",\"name\":\"mteHotTrigger\","
         "\"type\":\"OCTET STRING\",\"value\":\"dskTable\"},"
         "{\"oid\":\"1.3.6.1.2.1.88.2.1.2\",\"name\":\"mteHotTargetName\","
         "\"type\":\"OCTET STRING\",\"value\":\"\"},"
         "{\"oid\":\"1.3.6.1.2.1.88.2.1.3\",\"name\":\"mteHotContextName\","
         "\"type\":\"OCTET STRING\",\"value\":\"\"},"
         "{\"oid\":\"1.3.6.1.2.1.88.2.1.4\",\"name\":\"mteHotOID\","
         "\"type\":\"OBJECT IDENTIFIER\",\"value\":\"1.3.6.1.4.1.2021.9.1.100.1\"},"
         "{\"oid\":\"1.3.6.1.2.1.88.2.1.5\",\"name\":\"mteHotValue\",\"type\":\"INTEGER\","
         "\"value\":\"1\"},"
         "{\"oid\":\"1.3.6.1.4.1.2021.9.1.2.1\",\"name\":\"dskPath.1\","
         "\"type\":\"OCTET STRING\",\"value\":\"/\"},"
         "{\"oid\":\"1.3.6.1.4.1.2021.9.1.101.1\",\"name\":\"dskErrorMsg.1\","
         "\"type\":\"OCTET STRING\",\"value\":\"/: less than 10% free\"}]}"},
    };
    buf scratch, resp;
    buf_init(&scratch, 0);
    buf_init(&resp, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const rcase *c = &cases[i];
        event ev;
        char err[256] = "";
        int rc = decode(c->in, c->len, c->community, &scratch, &ev, &resp, err, sizeof err);
        if (rc)
            fail_msg("%s: rc %d (%s)", c->name, rc, err);
        check_invariants(c->name, &ev);
        if (ev.severity != c->sev)
            fail_msg("%s: severity %d, want %d", c->name, ev.severity, c->sev);
        const char *got[] = {ev.host, ev.app, ev.title, ev.text, ev.fields, ev.source};
        const char *want[] = {c->host, c->app, c->title, c->text, c->fields, SRC};
        const char *what[] = {"host", "app", "title", "text", "fields", "source"};
        for (int k = 0; k < 6; k++)
            if (strcmp(got[k], want[k]))
                fail_msg("%s: %s\n \"%s\"\nwant\n \"%s\"", c->name, what[k], got[k], want[k]);
        /* Nothing of the community anywhere. */
        const char *secret[] = {"s3cret", "private", "topsecret"};
        for (int k = 0; k < 3; k++)
            for (int m = 0; m < 6; m++)
                if (strstr(got[m], secret[k]))
                    fail_msg("%s: the community in %s", c->name, what[m]);
        int inform = strstr(c->name, "inform") != NULL;
        if ((resp.len != 0) != inform)
            fail_msg("%s: response of %zu bytes", c->name, resp.len);
    }
    buf_free(&scratch);
    buf_free(&resp);
}

/* The response to an inform is what snmptrapd sends (and what snmpinform accepts: checked by
 * hand with snmpinform against a responder sending these bytes). */
static void inform_response(void **state)
{
    (void)state;
    static const struct {
        const unsigned char *in;
        size_t len;
        const unsigned char *want;
        size_t wlen;
    } cases[] = {
        {A(v2c_inform), A(v2c_inform_resp_netsnmp)},
        {A(v2c_inform_big), A(v2c_inform_big_resp_netsnmp)},
    };
    buf scratch, resp;
    buf_init(&scratch, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        event ev;
        char err[256] = "";
        buf_init(&resp, cases[i].len); /* the documented bound: never larger than the request */
        assert_int_equal(
            decode(cases[i].in, cases[i].len, "", &scratch, &ev, &resp, err, sizeof err), 0);
        assert_int_equal(resp.len, cases[i].wlen);
        assert_memory_equal(resp.data, cases[i].want, cases[i].wlen);
        /* The response is not a notification. */
        event ev2;
        buf s2;
        buf_init(&s2, 0);
        assert_int_equal(decode((const unsigned char *)resp.data, resp.len, "", &s2, &ev2, NULL,
                                err, sizeof err),
                         -EINVAL);
        assert_non_null(strstr(err, "Response-PDU is not a notification"));
        buf_free(&s2);
        /* Without a response buffer, only the event. */
        assert_int_equal(
            decode(cases[i].in, cases[i].len, "", &scratch, &ev, NULL, err, sizeof err), 0);
        /* A response buffer too small: -E2BIG, the record untouched, the buffer empty. */
        buf small;
        buf_init(&small, 20);
        event sentinel;
        memset(&ev, 0x5a, sizeof ev);
        memcpy(&sentinel, &ev, sizeof ev);
        assert_int_equal(
            decode(cases[i].in, cases[i].len, "", &scratch, &ev, &small, err, sizeof err), -E2BIG);
        assert_memory_equal(&ev, &sentinel, sizeof ev);
        assert_int_equal(small.len, 0);
        buf_free(&small);
        buf_free(&resp);
    }
    /* Non-minimal lengths and error fields in the request: the response is minimal, error 0. */
    static const unsigned char odd[] = {
        0x30, 0x81, 0x3d, 0x02, 0x01, 0x01, 0x04, 0x01, 'c', 0xa6, 0x82, 0x00, 0x33,
        0x02, 0x02, 0x00, 0x07,                   /* request-id 7, one byte too many */
        0x02, 0x01, 0x05, 0x02, 0x02, 0x00, 0x01, /* error-status 5, error-index 1 */
        0x30, 0x81, 0x25,                         /* varbinds */
        0x30, 0x0d, 0x06, 0x08, 0x2b, 6,    1,    2,    1,   1,    3,    0,    0x43,
        0x01, 0x09, 0x30, 0x14, 0x06, 0x0a, 0x2b, 6,    1,   6,    3,    1,    1,
        4,    1,    0,    0x06, 0x06, 0x2b, 6,    1,    6,   3,    1,
    };
    static const unsigned char odd_resp[] = {
        0x30, 0x3a, 0x02, 0x01, 0x01, 0x04, 0x01, 'c',  0xa2, 0x32, 0x02, 0x02, 0x00, 0x07, 0x02,
        0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x81, 0x25, 0x30, 0x0d, 0x06, 0x08, 0x2b, 6,    1,
        2,    1,    1,    3,    0,    0x43, 0x01, 0x09, 0x30, 0x14, 0x06, 0x0a, 0x2b, 6,    1,
        6,    3,    1,    1,    4,    1,    0,    0x06, 0x06, 0x2b, 6,    1,    6,    3,    1,
    };
    event ev;
    char err[256] = "";
    buf_init(&resp, 0);
    int rc = decode(A(odd), "c", &scratch, &ev, &resp, err, sizeof err);
    if (rc)
        fail_msg("odd inform: %d %s", rc, err);
    assert_string_equal(ev.app, "1.3.6.1.6.3.1");
    assert_int_equal(resp.len, sizeof odd_resp);
    assert_memory_equal(resp.data, odd_resp, sizeof odd_resp);
    /* A trap after an inform: the response buffer is emptied. */
    assert_int_equal(decode(A(v2c_linkup), "", &scratch, &ev, &resp, err, sizeof err), 0);
    assert_int_equal(resp.len, 0);
    buf_free(&resp);
    buf_free(&scratch);
}

static void communities(void **state)
{
    (void)state;
    static const struct {
        const unsigned char *in;
        size_t len;
        const char *community;
        int rc;
    } cases[] = {
        {A(v1_linkdown), "public", 0},
        {A(v1_linkdown), "", 0},
        {A(v1_linkdown), NULL, 0},
        {A(v1_linkdown), "Public", -EACCES},
        {A(v1_linkdown), "publi", -EACCES},
        {A(v1_linkdown), "publicc", -EACCES},
        {A(v1_specific), "public", -EACCES},
        {A(v1_specific), "s3cret", 0},
        {A(v2c_inform), "private", -EACCES},
        {A(v2c_inform_big), "private", 0},
        {A(v2c_inform_big), "privatE", -EACCES},
        {A(v2c_linkup), "x", -EACCES},
    };
    buf scratch, resp;
    buf_init(&scratch, 0);
    buf_init(&resp, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        event ev, sentinel;
        memset(&ev, 0x5a, sizeof ev);
        memcpy(&sentinel, &ev, sizeof ev);
        char err[256] = "";
        buf_putc(&resp, 'x'); /* stale bytes: must be gone after the call */
        int rc = decode(cases[i].in, cases[i].len, cases[i].community, &scratch, &ev, &resp, err,
                        sizeof err);
        if (rc != cases[i].rc)
            fail_msg("case %zu: rc %d (%s), want %d", i, rc, err, cases[i].rc);
        if (rc) {
            assert_memory_equal(&ev, &sentinel, sizeof ev);
            assert_int_equal(resp.len, 0);
            assert_string_equal(err, "wrong community");
        }
    }
    buf_free(&scratch);
    buf_free(&resp);
}

static void versions_and_pdus(void **state)
{
    (void)state;
    buf m, vbs, scratch;
    buf_init(&m, 0);
    buf_init(&vbs, 0);
    buf_init(&scratch, 0);
    event ev;
    char err[256];

    assert_int_equal(decode(A(v3_trap), "", &scratch, &ev, NULL, err, sizeof err),
                     -EPROTONOSUPPORT);
    assert_non_null(strstr(err, "SNMPv3"));
    /* SNMPv3 even with a community configured: no community to compare. */
    assert_int_equal(decode(A(v3_trap), "public", &scratch, &ev, NULL, err, sizeof err),
                     -EPROTONOSUPPORT);

    /* Other version numbers, the v2c PDU otherwise valid. */
    vb_head(&vbs, "1.3.6.1.6.3.1.1.5.1");
    v2c_msg(&m, 0xa7, &vbs);
    assert_int_equal(
        decode((unsigned char *)m.data, m.len, "", &scratch, &ev, NULL, err, sizeof err), 0);
    assert_string_equal(ev.app, "coldStart");
    static const unsigned char other[] = {2, 4, 0x7f, 0xff};
    for (size_t k = 0; k < sizeof other; k++) {
        m.data[4] = (char)other[k];
        assert_int_equal(
            decode((unsigned char *)m.data, m.len, "", &scratch, &ev, NULL, err, sizeof err),
            -EPROTONOSUPPORT);
        assert_non_null(strstr(err, "version"));
    }
    m.data[4] = 1;

    /* PDUs that are not notifications, or of the other version. */
    static const struct {
        unsigned ver, pdu;
        const char *why;
    } pdus[] = {
        {1, 0xa0, "GetRequest-PDU is not a notification"},
        {1, 0xa1, "GetNextRequest-PDU is not a notification"},
        {1, 0xa2, "Response-PDU is not a notification"},
        {1, 0xa3, "SetRequest-PDU is not a notification"},
        {1, 0xa5, "GetBulkRequest-PDU is not a notification"},
        {1, 0xa8, "Report-PDU is not a notification"},
        {1, 0xa4, "Trap-PDU in an SNMPv2c message"},
        {0, 0xa7, "SNMPv2-Trap-PDU in an SNMPv1 message"},
        {0, 0xa6, "InformRequest-PDU in an SNMPv1 message"},
        {1, 0xa9, "PDU expected, found tag 0xa9"},
        {1, 0x30, "PDU expected, found tag 0x30"},
    };
    for (size_t k = 0; k < sizeof pdus / sizeof pdus[0]; k++) {
        v2c_msg(&m, pdus[k].pdu, &vbs);
        m.data[4] = (char)pdus[k].ver;
        assert_int_equal(
            decode((unsigned char *)m.data, m.len, "", &scratch, &ev, NULL, err, sizeof err),
            -EINVAL);
        if (!strstr(err, pdus[k].why))
            fail_msg("pdu 0x%02x: \"%s\", want \"%s\"", pdus[k].pdu, err, pdus[k].why);
    }
    buf_free(&m);
    buf_free(&vbs);
    buf_free(&scratch);
}

/* ---- values, names, titles --------------------------------------------------------------- */

typedef struct vcase {
    unsigned tag;
    const char *val;
    size_t len;
    const char *type, *json, *text;
} vcase;

#define V(lit) lit, sizeof lit - 1

static void values(void **state)
{
    (void)state;
    static const vcase cases[] = {
        {0x02, V("\x00"), "INTEGER", "0", "0"},
        {0x02, V("\xff"), "INTEGER", "-1", "-1"},
        {0x02, V("\x80\x00\x00\x00\x00\x00\x00\x00"), "INTEGER", "-9223372036854775808",
         "-9223372036854775808"},
        {0x02, V("\x7f\xff\xff\xff\xff\xff\xff\xff"), "INTEGER", "9223372036854775807",
         "9223372036854775807"},
        /* Redundant leading bytes (net-snmp reads them too). */
        {0x02, V("\x00\x00\x00\x05"), "INTEGER", "5", "5"},
        {0x02, V("\xff\xff\xff\xfe"), "INTEGER", "-2", "-2"},
        {0x02, V("\x00\x7f\xff\xff\xff\xff\xff\xff\xff"), "INTEGER", "9223372036854775807",
         "9223372036854775807"},
        {0x41, V("\x00\xff\xff\xff\xff"), "Counter32", "4294967295", "4294967295"},
        /* The full width without the leading zero: the common encoder bug. */
        {0x41, V("\xff\xff\xff\xff"), "Counter32", "4294967295", "4294967295"},
        {0x42, V("\x00"), "Gauge32", "0", "0"},
        {0x47, V("\x07"), "UInteger32", "7", "7"},
        {0x43, V("\x00\xff\xff\xff\xff"), "TimeTicks", "4294967295",
         "4294967295 (497 days 2:27:52.95)"},
        {0x43, V("\x00\x83\xd6\x00"), "TimeTicks", "8640000", "8640000 (1 day 0:00:00.00)"},
        {0x43, V("\x00"), "TimeTicks", "0", "0 (0:00:00.00)"},
        {0x46, V("\x00\xff\xff\xff\xff\xff\xff\xff\xff"), "Counter64", "18446744073709551615",
         "18446744073709551615"},
        {0x46, V("\xff\xff\xff\xff\xff\xff\xff\xff"), "Counter64", "18446744073709551615",
         "18446744073709551615"},
        {0x46, V("\x01\x00\x00\x00\x00"), "Counter64", "4294967296", "4294967296"},
        {0x40, V("\xc0\x00\x02\x01"), "IpAddress", "192.0.2.1", "192.0.2.1"},
        {0x05, V(""), "NULL", "", "NULL"},
        {0x80, V(""), "noSuchObject", "", "noSuchObject"},
        {0x81, V(""), "noSuchInstance", "", "noSuchInstance"},
        {0x82, V(""), "endOfMibView", "", "endOfMibView"},
        {0x06, V("\x2b\x06\x01\x02\x01\x02\x02\x01\x01\x03"), "OBJECT IDENTIFIER",
         "1.3.6.1.2.1.2.2.1.1.3", "ifIndex.3"},
        /* Prefixes match on sub-identifier boundaries: ifInOctets (column 10) is not ifIndex. */
        {0x06, V("\x2b\x06\x01\x02\x01\x02\x02\x01\x0a\x03"), "OBJECT IDENTIFIER",
         "1.3.6.1.2.1.2.2.1.10.3", "1.3.6.1.2.1.2.2.1.10.3"},
        {0x06, V("\x2b\x06\x01\x02\x01\x01\x03"), "OBJECT IDENTIFIER", "1.3.6.1.2.1.1.3",
         "sysUpTime"},
        {0x06, V("\x00"), "OBJECT IDENTIFIER", "0.0", "0.0"},
        {0x06, V("\x4f"), "OBJECT IDENTIFIER", "1.39", "1.39"},
        {0x06, V("\x88\x37\x03"), "OBJECT IDENTIFIER", "2.999.3", "2.999.3"},
        {0x06, V("\x2b\x8f\xff\xff\xff\x7f"), "OBJECT IDENTIFIER", "1.3.4294967295",
         "1.3.4294967295"},
        /* Strings: text when printable UTF-8 (TAB, CR, LF allowed), else hex. */
        {0x04, V(""), "OCTET STRING", "", ""},
        {0x04, V("eth0"), "OCTET STRING", "eth0", "eth0"},
        {0x04, V("eth0\0"), "OCTET STRING", "eth0", "eth0"}, /* trailing NULs dropped */
        {0x04, V("eth0\0\0"), "OCTET STRING", "eth0", "eth0"},
        {0x04, V("\0"), "OCTET STRING", "0x00", "0x00"},
        {0x04, V("a\0b"), "OCTET STRING", "0x610062", "0x610062"},
        {0x04, V("say \"hi\" \\o/"), "OCTET STRING", "say \\\"hi\\\" \\\\o/", "say \"hi\" \\o/"},
        {0x04, V("a\tb\r\nc"), "OCTET STRING", "a\\tb\\r\\nc", "a b  c"},
        {0x04, V("bell\a"), "OCTET STRING", "0x62656c6c07", "0x62656c6c07"},
        {0x04, V("del\x7f"), "OCTET STRING", "0x64656c7f", "0x64656c7f"},
        {0x04, V("\xc2\x85"), "OCTET STRING", "0xc285", "0xc285"},        /* C1 NEL */
        {0x04, V("\xc2\xa0x"), "OCTET STRING", "\xc2\xa0x", "\xc2\xa0x"}, /* NBSP */
        {0x04, V("\xe2\x82\xac 5"), "OCTET STRING", "\xe2\x82\xac 5", "\xe2\x82\xac 5"},
        {0x04, V("\xf0\x9f\x93\x9f"), "OCTET STRING", "\xf0\x9f\x93\x9f", "\xf0\x9f\x93\x9f"},
        {0x04, V("caf\xe9"), "OCTET STRING", "0x636166e9", "0x636166e9"},  /* Latin-1 */
        {0x04, V("\xc0\xaf"), "OCTET STRING", "0xc0af", "0xc0af"},         /* overlong */
        {0x04, V("\xed\xa0\x80"), "OCTET STRING", "0xeda080", "0xeda080"}, /* surrogate */
        {0x04, V("\xf4\x90\x80\x80"), "OCTET STRING", "0xf4908080", "0xf4908080"},
        {0x04, V("\xe2\x82"), "OCTET STRING", "0xe282", "0xe282"}, /* cut */
        {0x04, V("\x00\x1b\x21\x3a\x4c\x5d"), "OCTET STRING", "0x001b213a4c5d",
         "0x001b213a4c5d"}, /* a MAC address */
        /* net-snmp's Opaque-wrapped values. */
        {0x44, V("\x9f\x78\x04\x3f\xc0\x00\x00"), "Opaque Float", "1.5", "1.5"},
        {0x44, V("\x9f\x79\x08\x40\x09\x21\xfb\x54\x44\x2d\x18"), "Opaque Double",
         "3.1415926535897931", "3.1415926535897931"},
        {0x44, V("\x9f\x7a\x01\xfb"), "Opaque Int64", "-5", "-5"},
        {0x44, V("\x9f\x7b\x02\x01\x00"), "Opaque UInt64", "256", "256"},
        {0x44, V("\x9f\x76\x01\x2a"), "Opaque Counter64", "42", "42"},
        {0x44, V("\x9f\x78\x03\x3f\xc0\x00"), "Opaque", "0x9f78033fc000", "0x9f78033fc000"},
        {0x44, V("\x9f\x7b\x05\x01\x00"), "Opaque", "0x9f7b050100", "0x9f7b050100"},
        {0x44, V("\x04\x02hi"), "Opaque", "0x04026869", "0x04026869"},
        {0x44, V(""), "Opaque", "0x", "0x"},
    };
    buf vbs, m, scratch;
    buf_init(&vbs, 0);
    buf_init(&m, 0);
    buf_init(&scratch, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const vcase *c = &cases[i];
        buf_reset(&vbs);
        vb_head(&vbs, "1.3.6.1.4.1.99999.0.1");
        vb(&vbs, "1.3.6.1.4.1.99999.1.1", c->tag, c->val, c->len);
        v2c_msg(&m, 0xa7, &vbs);
        event ev;
        char err[256] = "", want[1024];
        int rc = decode((unsigned char *)m.data, m.len, "", &scratch, &ev, NULL, err, sizeof err);
        if (rc)
            fail_msg("case %zu (%s): rc %d (%s)", i, c->type, rc, err);
        check_invariants(c->type, &ev);
        snprintf(want, sizeof want, "1.3.6.1.4.1.99999.1.1 = %s", c->text);
        if (strcmp(ev.text, want))
            fail_msg("case %zu: text \"%s\", want \"%s\"", i, ev.text, want);
        snprintf(want, sizeof want,
                 "\"varbinds\":[{\"oid\":\"1.3.6.1.4.1.99999.1.1\",\"name\":"
                 "\"1.3.6.1.4.1.99999.1.1\",\"type\":\"%s\",\"value\":\"%s\"}]}",
                 c->type, c->json);
        if (!strstr(ev.fields, want))
            fail_msg("case %zu: fields %s\nwant ...%s", i, ev.fields, want);
    }
    buf_free(&vbs);
    buf_free(&m);
    buf_free(&scratch);
}

typedef struct tcase {
    const char *trap_oid;
    int sev;
    const char *app;
} tcase;

static void notification_names_and_severities(void **state)
{
    (void)state;
    static const tcase cases[] = {
        {"1.3.6.1.6.3.1.1.5.1", EVENT_NOTICE, "coldStart"},
        {"1.3.6.1.6.3.1.1.5.2", EVENT_NOTICE, "warmStart"},
        {"1.3.6.1.6.3.1.1.5.3", EVENT_WARNING, "linkDown"},
        {"1.3.6.1.6.3.1.1.5.4", EVENT_NOTICE, "linkUp"},
        {"1.3.6.1.6.3.1.1.5.5", EVENT_WARNING, "authenticationFailure"},
        {"1.3.6.1.6.3.1.1.5.6", EVENT_WARNING, "egpNeighborLoss"},
        {"1.3.6.1.6.3.1.1.5.7", EVENT_INFO, "1.3.6.1.6.3.1.1.5.7"},
        {"1.3.6.1.6.3.1.1.5.1.0", EVENT_INFO, "1.3.6.1.6.3.1.1.5.1.0"}, /* exact names only */
        {"1.3.6.1.6.3.1.1.5", EVENT_INFO, "1.3.6.1.6.3.1.1.5"},
        {"1.3.6.1.4.1.8072.4.0.1", EVENT_NOTICE, "nsNotifyStart"},
        {"1.3.6.1.4.1.8072.4.0.2", EVENT_WARNING, "nsNotifyShutdown"},
        {"1.3.6.1.4.1.8072.4.0.3", EVENT_NOTICE, "nsNotifyRestart"},
        {"1.3.6.1.2.1.88.2.0.1", EVENT_WARNING, "mteTriggerFired"},
        {"1.3.6.1.2.1.88.2.0.3", EVENT_NOTICE, "mteTriggerFalling"},
        {"1.3.6.1.2.1.33.2.1", EVENT_WARNING, "upsTrapOnBattery"},
        {"1.3.6.1.2.1.33.2.4", EVENT_NOTICE, "upsTrapAlarmEntryRemoved"},
        {"1.3.6.1.2.1.15.0.2", EVENT_WARNING, "bgpBackwardTransNotification"},
        {"1.3.6.1.2.1.15.7.1", EVENT_NOTICE, "bgpEstablished"},
        {"1.3.6.1.2.1.47.2.0.1", EVENT_INFO, "entConfigChange"},
        {"1.3.6.1.4.1.9.9.43.2.0.1", EVENT_INFO, "ciscoConfigManEvent"},
        {"1.3.6.1.2.1.2.2.1.1", EVENT_INFO, "ifIndex"}, /* named, though not a notification */
    };
    buf vbs, m, scratch;
    buf_init(&vbs, 0);
    buf_init(&m, 0);
    buf_init(&scratch, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_reset(&vbs);
        vb_head(&vbs, cases[i].trap_oid);
        v2c_msg(&m, 0xa7, &vbs);
        event ev;
        char err[256] = "";
        int rc = decode((unsigned char *)m.data, m.len, "", &scratch, &ev, NULL, err, sizeof err);
        if (rc)
            fail_msg("%s: rc %d (%s)", cases[i].trap_oid, rc, err);
        if (strcmp(ev.app, cases[i].app) || ev.severity != cases[i].sev)
            fail_msg("%s: app %s severity %d, want %s %d", cases[i].trap_oid, ev.app, ev.severity,
                     cases[i].app, cases[i].sev);
    }

    /* v1 generic traps are named as their v2 notifications (RFC 3584 3.1). */
    static const char *generic[] = {
        "coldStart", "warmStart", "linkDown", "linkUp", "authenticationFailure", "egpNeighborLoss"};
    unsigned char dg[sizeof v1_coldstart];
    memcpy(dg, v1_coldstart, sizeof dg);
    for (unsigned g = 0; g < 6; g++) {
        dg[35] = (unsigned char)g; /* generic-trap's only byte */
        event ev;
        char err[256] = "", want[64];
        assert_int_equal(decode(dg, sizeof dg, "", &scratch, &ev, NULL, err, sizeof err), 0);
        assert_string_equal(ev.app, generic[g]);
        snprintf(want, sizeof want, "\"trap_oid\":\"1.3.6.1.6.3.1.1.5.%u\"", g + 1);
        assert_non_null(strstr(ev.fields, want));
    }
    dg[35] = 7;
    event ev;
    char err[256];
    assert_int_equal(decode(dg, sizeof dg, "", &scratch, &ev, NULL, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "generic-trap 7"));
    buf_free(&vbs);
    buf_free(&m);
    buf_free(&scratch);
}

static void hosts_and_titles(void **state)
{
    (void)state;
    buf vbs, m, scratch;
    buf_init(&vbs, 0);
    buf_init(&m, 0);
    buf_init(&scratch, 0);
    event ev;
    char err[256] = "";

    /* v1 agent-addr 0.0.0.0: no host, the sender names the title; no sender: the name alone. */
    unsigned char dg[sizeof v1_coldstart];
    memcpy(dg, v1_coldstart, sizeof dg);
    memset(dg + 29, 0, 4);
    assert_int_equal(decode(dg, sizeof dg, "", &scratch, &ev, NULL, err, sizeof err), 0);
    assert_string_equal(ev.host, "");
    assert_string_equal(ev.title, "coldStart from " SRC);
    assert_non_null(strstr(ev.fields, "\"agent_addr\":\"0.0.0.0\""));
    assert_int_equal(
        snmptrap_decode(dg, sizeof dg, "", NULL, NOW_MS, &scratch, &ev, NULL, err, sizeof err), 0);
    assert_string_equal(ev.title, "coldStart");
    assert_string_equal(ev.source, "");

    /* linkDown titles: ifName before ifDescr, an ifAlias in parentheses, an index alone. */
    buf_reset(&vbs);
    vb_head(&vbs, "1.3.6.1.6.3.1.1.5.3");
    vb_int(&vbs, "1.3.6.1.2.1.2.2.1.1.12", 12);
    vb_str(&vbs, "1.3.6.1.2.1.2.2.1.2.12", "GigabitEthernet0/12");
    vb_str(&vbs, "1.3.6.1.2.1.31.1.1.1.1.12", "Gi0/12");
    vb_str(&vbs, "1.3.6.1.2.1.31.1.1.1.18.12", "uplink to core\r\n");
    v2c_msg(&m, 0xa7, &vbs);
    assert_int_equal(
        decode((unsigned char *)m.data, m.len, "", &scratch, &ev, NULL, err, sizeof err), 0);
    assert_string_equal(ev.title, "linkDown from " SRC " on Gi0/12 (uplink to core)");

    buf_reset(&vbs);
    vb_head(&vbs, "1.3.6.1.6.3.1.1.5.4");
    vb_int(&vbs, "1.3.6.1.2.1.2.2.1.7.5", 1);
    vb_int(&vbs, "1.3.6.1.2.1.2.2.1.8.5", 1);
    v2c_msg(&m, 0xa7, &vbs);
    assert_int_equal(
        decode((unsigned char *)m.data, m.len, "", &scratch, &ev, NULL, err, sizeof err), 0);
    assert_string_equal(ev.title, "linkUp from " SRC " on ifIndex 5");

    /* A binary ifDescr does not make a title; nor does an empty one. Long names are cut at a
     * character boundary. */
    buf_reset(&vbs);
    vb_head(&vbs, "1.3.6.1.6.3.1.1.5.3");
    vb_str(&vbs, "1.3.6.1.2.1.2.2.1.2.9", "\x01\x02");
    vb_str(&vbs, "1.3.6.1.2.1.31.1.1.1.1.9", "");
    v2c_msg(&m, 0xa7, &vbs);
    assert_int_equal(
        decode((unsigned char *)m.data, m.len, "", &scratch, &ev, NULL, err, sizeof err), 0);
    assert_string_equal(ev.title, "linkDown from " SRC " on ifIndex 9");
    char longname[200] = "x"; /* then 40 times é: the cut at 64 bytes falls inside one */
    for (int k = 0; k < 40; k++)
        memcpy(longname + 1 + 2 * k, "\xc3\xa9", 3);
    buf_reset(&vbs);
    vb_head(&vbs, "1.3.6.1.6.3.1.1.5.3");
    vb_str(&vbs, "1.3.6.1.2.1.31.1.1.1.1.9", longname);
    v2c_msg(&m, 0xa7, &vbs);
    assert_int_equal(
        decode((unsigned char *)m.data, m.len, "", &scratch, &ev, NULL, err, sizeof err), 0);
    char want[300];
    snprintf(want, sizeof want, "linkDown from " SRC " on %.*s", SNMPTRAP_IFNAME_MAX - 1, longname);
    assert_string_equal(ev.title, want);
    /* An interface varbind does not change other traps' titles. */
    buf_reset(&vbs);
    vb_head(&vbs, "1.3.6.1.6.3.1.1.5.1");
    vb_str(&vbs, "1.3.6.1.2.1.31.1.1.1.1.9", "eth9");
    v2c_msg(&m, 0xa7, &vbs);
    assert_int_equal(
        decode((unsigned char *)m.data, m.len, "", &scratch, &ev, NULL, err, sizeof err), 0);
    assert_string_equal(ev.title, "coldStart from " SRC);

    /* Host: snmpTrapAddress.0 before sysName.0; 0.0.0.0 and a binary or multi-line sysName
     * do not count. */
    unsigned char zero[4] = {0}, addr[4] = {203, 0, 113, 5};
    buf_reset(&vbs);
    vb_head(&vbs, "1.3.6.1.6.3.1.1.5.1");
    vb_str(&vbs, "1.3.6.1.2.1.1.5.0", "rtr1");
    vb(&vbs, "1.3.6.1.6.3.18.1.3.0", 0x40, zero, 4);
    v2c_msg(&m, 0xa7, &vbs);
    assert_int_equal(
        decode((unsigned char *)m.data, m.len, "", &scratch, &ev, NULL, err, sizeof err), 0);
    assert_string_equal(ev.host, "rtr1");
    assert_string_equal(ev.title, "coldStart from rtr1");
    vb(&vbs, "1.3.6.1.6.3.18.1.3.0", 0x40, addr, 4);
    v2c_msg(&m, 0xa7, &vbs);
    assert_int_equal(
        decode((unsigned char *)m.data, m.len, "", &scratch, &ev, NULL, err, sizeof err), 0);
    assert_string_equal(ev.host, "203.0.113.5");
    buf_reset(&vbs);
    vb_head(&vbs, "1.3.6.1.6.3.1.1.5.1");
    vb_str(&vbs, "1.3.6.1.2.1.1.5.0", "two\nlines");
    vb_str(&vbs, "1.3.6.1.2.1.1.5.0", "\xff");
    v2c_msg(&m, 0xa7, &vbs);
    assert_int_equal(
        decode((unsigned char *)m.data, m.len, "", &scratch, &ev, NULL, err, sizeof err), 0);
    assert_string_equal(ev.host, "");

    /* sysUpTime.0 and snmpTrapOID.0 out of order, and a second snmpTrapOID.0 as payload. */
    buf_reset(&vbs);
    vb_str(&vbs, "1.3.6.1.2.1.1.5.0", "x");
    vb_oid(&vbs, "1.3.6.1.6.3.1.1.4.1.0", "1.3.6.1.6.3.1.1.5.2");
    vb_oid(&vbs, "1.3.6.1.6.3.1.1.4.1.0", "1.3.6.1.6.3.1.1.5.3");
    v2c_msg(&m, 0xa7, &vbs);
    assert_int_equal(
        decode((unsigned char *)m.data, m.len, "", &scratch, &ev, NULL, err, sizeof err), 0);
    assert_string_equal(ev.app, "warmStart");
    assert_string_equal(ev.text, "sysName.0 = x\nsnmpTrapOID.0 = linkDown");
    assert_null(strstr(ev.fields, "uptime")); /* no sysUpTime.0: no uptime */
    buf_free(&vbs);
    buf_free(&m);
    buf_free(&scratch);
}

/* ---- hostile input ----------------------------------------------------------------------- */

typedef struct hcase {
    const char *name;
    const unsigned char *in;
    size_t len;
    int rc;
    const char *err; /* a substring of the reason */
} hcase;

static void run_hostile(const hcase *c, size_t n)
{
    buf scratch, resp;
    buf_init(&scratch, 0);
    buf_init(&resp, 0);
    for (size_t i = 0; i < n; i++) {
        event ev, sentinel;
        memset(&ev, 0x5a, sizeof ev);
        memcpy(&sentinel, &ev, sizeof ev);
        char err[256] = "";
        int rc = decode(c[i].in, c[i].len, "", &scratch, &ev, &resp, err, sizeof err);
        if (rc != c[i].rc || !strstr(err, c[i].err))
            fail_msg("%s: rc %d \"%s\", want %d \"%s\"", c[i].name, rc, err, c[i].rc, c[i].err);
        if (rc) {
            assert_memory_equal(&ev, &sentinel, sizeof ev);
            assert_int_equal(resp.len, 0);
        }
    }
    buf_free(&scratch);
    buf_free(&resp);
}

#define H(name, lit, rc, err)                                                                      \
    {                                                                                              \
        name, (const unsigned char *)lit, sizeof lit - 1, rc, err                                  \
    }

static void hostile_bytes(void **state)
{
    (void)state;
    static const hcase cases[] = {
        {"empty", NULL, 0, -EINVAL, "byte 0: empty datagram"},
        H("one byte", "\x30", -EINVAL, "byte 1: truncated: a length expected"),
        H("text", "hello world", -EINVAL, "byte 0: an SNMP message (SEQUENCE) expected"),
        H("json", "{\"a\":1}", -EINVAL, "byte 0: an SNMP message"),
        H("indefinite", "\x30\x80\x02\x01\x01\x00\x00", -EINVAL, "byte 1: indefinite length"),
        H("5-byte length", "\x30\x85\x00\x00\x00\x00\x03\x02\x01\x01", -EINVAL,
          "byte 1: length of 5 bytes"),
        H("127-byte length", "\x30\xff\x02\x01\x01", -EINVAL, "length of 127 bytes"),
        H("4-byte length, huge", "\x30\x84\xff\xff\xff\xff\x02\x01\x01", -EINVAL,
          "past the end of its container"),
        H("length past end", "\x30\x10\x02\x01\x01", -EINVAL, "byte 0: length 16 past the end"),
        H("bytes after", "\x30\x03\x02\x01\x01\x00", -EINVAL, "byte 5: 1 bytes after the message"),
        H("high tag", "\x30\x07\x02\x01\x01\x04\x00\xbf\x00", -EINVAL,
          "byte 7: tag 0xbf: high tag numbers"),
        H("no version", "\x30\x00", -EINVAL, "byte 2: truncated: version (INTEGER) expected"),
        H("empty version", "\x30\x02\x02\x00", -EINVAL, "version: empty integer"),
        H("huge version", "\x30\x0b\x02\x09\x01\x00\x00\x00\x00\x00\x00\x00\x00", -EINVAL,
          "version: integer out of the 64-bit range"),
        H("version OCTET STRING", "\x30\x03\x04\x01\x01", -EINVAL, "version (INTEGER) expected"),
        H("no community", "\x30\x03\x02\x01\x01", -EINVAL,
          "byte 5: truncated: community (OCTET STRING) expected"),
        H("no PDU", "\x30\x05\x02\x01\x01\x04\x00", -EINVAL, "byte 7: truncated: a tag"),
        H("empty trap2", "\x30\x07\x02\x01\x01\x04\x00\xa7\x00", -EINVAL,
          "byte 9: truncated: request-id (INTEGER) expected"),
        H("bytes after PDU (inside the message)",
          "\x30\x0a\x02\x01\x01\x04\x00\xa7\x00\x02\x01\x00", -EINVAL,
          "byte 9: 3 bytes after the PDU"),
        H("no varbinds", "\x30\x10\x02\x01\x01\x04\x00\xa7\x09\x02\x01\x01\x02\x01\x00\x02\x01\x00",
          -EINVAL, "byte 18: truncated: variable-bindings (SEQUENCE) expected"),
        H("empty varbinds",
          "\x30\x12\x02\x01\x01\x04\x00\xa7\x0b\x02\x01\x01\x02\x01\x00\x02\x01\x00\x30\x00",
          -EINVAL, "byte 18: no snmpTrapOID.0 varbind"),
        H("varbind not a SEQUENCE",
          "\x30\x14\x02\x01\x01\x04\x00\xa7\x0d\x02\x01\x01\x02\x01\x00\x02\x01\x00\x30\x02\x05"
          "\x00",
          -EINVAL, "byte 20: varbind 1: SEQUENCE expected"),
        H("bytes after varbinds (inside the PDU)",
          "\x30\x14\x02\x01\x01\x04\x00\xa7\x0d\x02\x01\x01\x02\x01\x00\x02\x01\x00\x30\x00\x05"
          "\x00",
          -EINVAL, "byte 20: 2 bytes after the variable-bindings"),
        H("varbind without value",
          "\x30\x17\x02\x01\x01\x04\x00\xa7\x10\x02\x01\x01\x02\x01\x00\x02\x01\x00\x30\x05\x30"
          "\x03\x06\x01\x2b",
          -EINVAL, "byte 25: varbind 1: truncated: a tag expected"),
        H("varbind with two values",
          "\x30\x1b\x02\x01\x01\x04\x00\xa7\x14\x02\x01\x01\x02\x01\x00\x02\x01\x00\x30\x09\x30"
          "\x07\x06\x01\x2b\x05\x00\x05\x00",
          -EINVAL, "byte 27: varbind 1: 2 bytes after its value"),
        /* v1 */
        H("v1 agent-addr of 5 bytes",
          "\x30\x14\x02\x01\x00\x04\x00\xa4\x0d\x06\x01\x2b\x40\x05\x01\x02\x03\x04\x05\x02\x01"
          "\x00",
          -EINVAL, "agent-addr of 5 bytes"),
        H("v1 negative specific",
          "\x30\x1b\x02\x01\x00\x04\x00\xa4\x14\x06\x01\x2b\x40\x04\x01\x02\x03\x04\x02\x01\x06"
          "\x02\x01\xff\x43\x01\x00\x30\x00",
          -EINVAL, "specific-trap -1 out of"),
        H("v1 specific above 2^32-1",
          "\x30\x1f\x02\x01\x00\x04\x00\xa4\x18\x06\x01\x2b\x40\x04\x01\x02\x03\x04\x02\x01\x06"
          "\x02\x05\x01\x00\x00\x00\x00\x43\x01\x00\x30\x00",
          -EINVAL, "specific-trap 4294967296 out of"),
        H("v1 time-stamp negative",
          "\x30\x1b\x02\x01\x00\x04\x00\xa4\x14\x06\x01\x2b\x40\x04\x01\x02\x03\x04\x02\x01\x00"
          "\x02\x01\x00\x43\x01\x80\x30\x00",
          -EINVAL, "time-stamp: negative value"),
        H("v1 empty enterprise",
          "\x30\x1a\x02\x01\x00\x04\x00\xa4\x13\x06\x00\x40\x04\x01\x02\x03\x04\x02\x01\x00"
          "\x02\x01\x00\x43\x01\x00\x30\x00",
          -EINVAL, "enterprise: empty OBJECT IDENTIFIER"),
        H("v1 minimal", /* the smallest valid v1 trap */
          "\x30\x1b\x02\x01\x00\x04\x00\xa4\x14\x06\x01\x2b\x40\x04\x01\x02\x03\x04\x02\x01\x00"
          "\x02\x01\x00\x43\x01\x00\x30\x00",
          0, ""),
    };
    run_hostile(cases, sizeof cases / sizeof cases[0]);
}

/* A v2c trap of one varbind after the two required ones, with the value's raw TLV. */
static void one_value(buf *m, const char *oid, unsigned tag, const void *val, size_t n)
{
    buf vbs;
    buf_init(&vbs, 0);
    vb_head(&vbs, "1.3.6.1.4.1.99999.0.1");
    vb(&vbs, oid, tag, val, n);
    v2c_msg(m, 0xa7, &vbs);
    buf_free(&vbs);
}

typedef struct bcase {
    const char *oid;
    unsigned tag;
    const char *val;
    size_t len;
    int rc;
    const char *err;
} bcase;

static void hostile_values(void **state)
{
    (void)state;
    static const bcase cases[] = {
        {"1.3.6.1.4.1.1", 0x02, V(""), -EINVAL, "varbind 3: INTEGER: empty integer"},
        {"1.3.6.1.4.1.1", 0x02, V("\x01\x00\x00\x00\x00\x00\x00\x00\x00"), -EINVAL,
         "INTEGER: integer out of the 64-bit range"},
        {"1.3.6.1.4.1.1", 0x02, V("\x00\x80\x00\x00\x00\x00\x00\x00\x00"), -EINVAL,
         "out of the 64-bit range"},
        {"1.3.6.1.4.1.1", 0x41, V("\x01\x00\x00\x00\x00"), -EINVAL,
         "Counter32: value above 2^32-1"},
        {"1.3.6.1.4.1.1", 0x41, V("\xff"), -EINVAL, "Counter32: negative value"},
        {"1.3.6.1.4.1.1", 0x42, V("\x80\x00\x00"), -EINVAL, "Gauge32: negative value"},
        {"1.3.6.1.4.1.1", 0x43, V(""), -EINVAL, "TimeTicks: empty integer"},
        {"1.3.6.1.4.1.1", 0x46, V("\x01\x00\x00\x00\x00\x00\x00\x00\x00"), -EINVAL,
         "Counter64: value above 2^64-1"},
        {"1.3.6.1.4.1.1", 0x46, V("\xff\xff"), -EINVAL, "Counter64: negative value"},
        {"1.3.6.1.4.1.1", 0x40, V("\x01\x02\x03"), -EINVAL, "IpAddress of 3 bytes"},
        {"1.3.6.1.4.1.1", 0x40,
         V("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
           "\x10"),
         -EINVAL, "IpAddress of 16 bytes"},
        {"1.3.6.1.4.1.1", 0x05, V("\x00"), -EINVAL, "NULL with 1 bytes of contents"},
        {"1.3.6.1.4.1.1", 0x80, V("\x00"), -EINVAL, "noSuchObject with 1 bytes"},
        {"1.3.6.1.4.1.1", 0x06, V(""), -EINVAL, "OBJECT IDENTIFIER: empty OBJECT IDENTIFIER"},
        {"1.3.6.1.4.1.1", 0x06, V("\x2b\x86"), -EINVAL, "truncated sub-identifier"},
        {"1.3.6.1.4.1.1", 0x06, V("\x2b\x80\x01"), -EINVAL, "not minimally encoded"},
        {"1.3.6.1.4.1.1", 0x06, V("\x2b\x90\x80\x80\x80\x00"), -EINVAL,
         "sub-identifier above 2^32-1"},
        {"1.3.6.1.4.1.1", 0x06, V("\x2b\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f"), -EINVAL,
         "sub-identifier above 2^32-1"},
        /* Types SNMP does not have, and constructed values. */
        {"1.3.6.1.4.1.1", 0x03, V("\x00\x01"), -EINVAL, "unsupported value type (tag 0x03)"},
        {"1.3.6.1.4.1.1", 0x45, V("\x01"), -EINVAL, "unsupported value type (tag 0x45)"},
        {"1.3.6.1.4.1.1", 0x30, V("\x05\x00"), -EINVAL, "unsupported value type (tag 0x30)"},
        {"1.3.6.1.4.1.1", 0xa2, V(""), -EINVAL, "unsupported value type (tag 0xa2)"},
        {"1.3.6.1.4.1.1", 0x83, V(""), -EINVAL, "unsupported value type (tag 0x83)"},
        {"1.3.6.1.4.1.1", 0x0c, V("utf8"), -EINVAL, "unsupported value type (tag 0x0c)"},
    };
    buf m;
    buf_init(&m, 0);
    buf scratch;
    buf_init(&scratch, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        one_value(&m, cases[i].oid, cases[i].tag, cases[i].val, cases[i].len);
        event ev;
        char err[256] = "";
        int rc = decode((unsigned char *)m.data, m.len, "", &scratch, &ev, NULL, err, sizeof err);
        if (rc != cases[i].rc || !strstr(err, cases[i].err) || strncmp(err, "byte ", 5))
            fail_msg("case %zu: rc %d \"%s\", want %d \"%s\"", i, rc, err, cases[i].rc,
                     cases[i].err);
    }
    /* The trap OID must be an OID. */
    buf vbs;
    buf_init(&vbs, 0);
    vb_str(&vbs, "1.3.6.1.6.3.1.1.4.1.0", "linkDown");
    v2c_msg(&m, 0xa7, &vbs);
    event ev;
    char err[256];
    assert_int_equal(
        decode((unsigned char *)m.data, m.len, "", &scratch, &ev, NULL, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "snmpTrapOID.0 is not an OBJECT IDENTIFIER but OCTET STRING"));
    buf_free(&vbs);
    buf_free(&m);
    buf_free(&scratch);
}

/* Builds an OID of n sub-identifiers, each `sub`. */
static void long_oid(char *out, size_t cap, unsigned n, const char *sub)
{
    size_t k = (size_t)snprintf(out, cap, "1.3");
    for (unsigned i = 2; i < n; i++)
        k += (size_t)snprintf(out + k, cap - k, ".%s", sub);
}

static void hostile_sizes(void **state)
{
    (void)state;
    buf m, vbs, scratch;
    buf_init(&m, 0);
    buf_init(&vbs, 0);
    buf_init(&scratch, 0);
    event ev;
    char err[256] = "", oid[3000];

    /* OIDs: 128 sub-identifiers (the largest each) are fine, 129 are not, as name or value. */
    long_oid(oid, sizeof oid, 128, "4294967295");
    one_value(&m, oid, 0x05, "", 0);
    assert_int_equal(
        decode((unsigned char *)m.data, m.len, "", &scratch, &ev, NULL, err, sizeof err), 0);
    assert_non_null(strstr(ev.text, ".4294967295 = NULL"));
    check_invariants("128 sub-identifiers", &ev);
    long_oid(oid, sizeof oid, 129, "1");
    one_value(&m, oid, 0x05, "", 0);
    assert_int_equal(
        decode((unsigned char *)m.data, m.len, "", &scratch, &ev, NULL, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "varbind 3: name: more than 128 sub-identifiers"));
    unsigned char enc[1500];
    one_value(&m, "1.3.6.1.4.1.1", 0x06, enc, oid_enc(oid, enc));
    assert_int_equal(
        decode((unsigned char *)m.data, m.len, "", &scratch, &ev, NULL, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "more than 128 sub-identifiers"));

    /* 256 varbinds are fine, 257 and 1000 are not. */
    static const unsigned counts[] = {256, 257, 1000};
    for (size_t k = 0; k < 3; k++) {
        buf_reset(&vbs);
        vb_head(&vbs, "1.3.6.1.4.1.99999.0.1");
        for (unsigned i = 2; i < counts[k]; i++)
            vb_int(&vbs, "1.3.6.1.4.1.99999.1", (unsigned char)i);
        v2c_msg(&m, 0xa7, &vbs);
        int rc = decode((unsigned char *)m.data, m.len, "", &scratch, &ev, NULL, err, sizeof err);
        if (counts[k] <= SNMPTRAP_MAX_VARBINDS) {
            assert_int_equal(rc, 0);
            check_invariants("256 varbinds", &ev);
        } else {
            assert_int_equal(rc, -EINVAL);
            assert_non_null(strstr(err, "more than 256 varbinds"));
        }
    }

    /* 10,000 nested SEQUENCEs: as the datagram, as a value, as the varbind list. */
    enum { DEPTH = 10000 };
    buf nest;
    buf_init(&nest, 0);
    for (int i = 0; i < DEPTH; i++) {
        buf_putc(&nest, 0x30);
        buf_putc(&nest, (char)0x84); /* 4-byte lengths: each one exact */
        size_t inner = (size_t)(DEPTH - 1 - i) * 6;
        for (int s = 3; s >= 0; s--)
            buf_putc(&nest, (char)(inner >> (8 * s)));
    }
    assert_int_equal(
        decode((unsigned char *)nest.data, nest.len, "", &scratch, &ev, NULL, err, sizeof err),
        -EINVAL);
    assert_non_null(strstr(err, "byte 6: version (INTEGER) expected"));
    one_value(&m, "1.3.6.1.4.1.1", 0x30, nest.data + 6, nest.len - 6);
    assert_int_equal(
        decode((unsigned char *)m.data, m.len, "", &scratch, &ev, NULL, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "unsupported value type (tag 0x30)"));
    v2c_msg(&m, 0xa7, &nest);
    assert_int_equal(
        decode((unsigned char *)m.data, m.len, "", &scratch, &ev, NULL, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "name (OBJECT IDENTIFIER) expected"));
    buf_free(&nest);

    /* A datagram larger than UDP allows. */
    static unsigned char big[SNMPTRAP_MAX_DATAGRAM + 1];
    assert_int_equal(decode(big, sizeof big, "", &scratch, &ev, NULL, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "datagram of 65536 bytes"));

    /* The largest datagram: one 65,000-byte binary string (hex) and the scratch it needs. */
    unsigned char *blob = malloc(65000);
    assert_non_null(blob);
    for (size_t i = 0; i < 65000; i++)
        blob[i] = (unsigned char)(i * 7 + 1) | 0x80;
    one_value(&m, "1.3.6.1.4.1.1", 0x04, blob, 65000);
    free(blob);
    buf capped;
    buf_init(&capped, SNMPTRAP_SCRATCH_NEED(m.len));
    assert_int_equal(
        decode((unsigned char *)m.data, m.len, "", &capped, &ev, NULL, err, sizeof err), 0);
    check_invariants("65,000-byte string", &ev);
    assert_true(strlen(ev.text) > 130000);
    buf_free(&capped);

    /* Many tiny varbinds with one-byte OIDs of named prefixes cost the most scratch per byte. */
    buf_reset(&vbs);
    vb_head(&vbs, "1.3.6.1.6.3.1.1.5.3");
    for (unsigned i = 2; i < SNMPTRAP_MAX_VARBINDS; i++)
        vb(&vbs, "0.0", 0x05, "", 0);
    v2c_msg(&m, 0xa7, &vbs);
    buf_init(&capped, SNMPTRAP_SCRATCH_NEED(m.len));
    assert_int_equal(
        decode((unsigned char *)m.data, m.len, "", &capped, &ev, NULL, err, sizeof err), 0);
    buf_free(&capped);

    buf_free(&m);
    buf_free(&vbs);
    buf_free(&scratch);
}

/* Every prefix of every real datagram is malformed and says where; every single-byte change
 * (each value +1, -1, ^0x80, 0x00 and 0xff at each position) decodes soundly or is refused
 * with a reason, never anything else. */
static void truncations_and_mutations(void **state)
{
    (void)state;
    static const struct {
        const unsigned char *in;
        size_t len;
    } dg[] = {
        {A(v1_coldstart)}, {A(v1_linkdown)}, {A(v1_specific)}, {A(v2c_linkup)},
        {A(v2c_authfail)}, {A(v2c_types)},   {A(v2c_inform)},  {A(v2c_inform_big)},
        {A(v2c_proxied)},  {A(v2c_mte)},     {A(v3_trap)},
    };
    buf scratch, resp;
    buf_init(&scratch, 0);
    buf_init(&resp, 0);
    unsigned long accepted = 0, refused = 0;
    for (size_t i = 0; i < sizeof dg / sizeof dg[0]; i++) {
        unsigned char *m = malloc(dg[i].len);
        assert_non_null(m);
        size_t hdr = dg[i].in[1] < 0x80 ? 2 : 2 + (dg[i].in[1] & 0x7f);
        for (size_t n = 0; n < dg[i].len; n++) {
            /* Cut as it is, then with the message length mended so the cut is found inside. */
            for (int mend = 0; mend < 2; mend++) {
                memcpy(m, dg[i].in, n);
                if (mend && n >= hdr)
                    for (size_t k = 2; k < hdr; k++)
                        m[k] = (unsigned char)((n - hdr) >> (8 * (hdr - 1 - k)));
                if (mend && n >= hdr && hdr == 2)
                    m[1] = (unsigned char)(n - hdr);
                event ev;
                char err[256] = "";
                int rc = decode(m, n, "", &scratch, &ev, &resp, err, sizeof err);
                if (i == 10 && mend && n >= 6 && rc == -EPROTONOSUPPORT)
                    continue; /* the v3 datagram is refused by its version */
                if (rc != -EINVAL || strncmp(err, "byte ", 5))
                    fail_msg("datagram %zu cut to %zu bytes: rc %d \"%s\"", i, n, rc, err);
                if (strtoul(err + 5, NULL, 10) > n)
                    fail_msg("datagram %zu cut to %zu bytes: offset past the end: %s", i, n, err);
            }
        }
        for (size_t pos = 0; pos < dg[i].len; pos++) {
            unsigned char orig = dg[i].in[pos];
            const unsigned char muts[] = {(unsigned char)(orig + 1), (unsigned char)(orig - 1),
                                          (unsigned char)(orig ^ 0x80), 0x00, 0xff};
            for (size_t k = 0; k < sizeof muts; k++) {
                memcpy(m, dg[i].in, dg[i].len);
                m[pos] = muts[k];
                event ev;
                char err[256] = "";
                int rc = decode(m, dg[i].len, "", &scratch, &ev, &resp, err, sizeof err);
                if (rc == 0) {
                    check_invariants("mutation", &ev);
                    accepted++;
                } else if (rc == -EINVAL || rc == -EPROTONOSUPPORT) {
                    if (!err[0] || strchr(err, '\n'))
                        fail_msg("datagram %zu byte %zu: reason \"%s\"", i, pos, err);
                    refused++;
                } else {
                    fail_msg("datagram %zu byte %zu = 0x%02x: rc %d (%s)", i, pos, m[pos], rc, err);
                }
            }
        }
        free(m);
    }
    /* Both outcomes happen (a test that cannot fail proves nothing). */
    assert_true(accepted > 1000);
    assert_true(refused > 1000);
    buf_free(&scratch);
    buf_free(&resp);
}

/* Random garbage, and random garbage behind a valid message head. */
static void garbage(void **state)
{
    (void)state;
    uint32_t x = 2463534242u;
    unsigned char g[600];
    buf scratch;
    buf_init(&scratch, 0);
    for (int round = 0; round < 20000; round++) {
        size_t n = 1 + round % sizeof g;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            g[i] = (unsigned char)x;
        }
        if (round & 1) {
            /* A plausible head, so the decoder gets further in. */
            static const unsigned char head[] = {0x30, 0x82, 0,    0,    0x02, 0x01, 0x01,
                                                 0x04, 0x00, 0xa7, 0x82, 0,    0};
            if (n < sizeof head + 1)
                n = sizeof head + 1;
            memcpy(g, head, sizeof head);
            g[2] = (unsigned char)((n - 4) >> 8);
            g[3] = (unsigned char)(n - 4);
            g[11] = (unsigned char)((n - 13) >> 8);
            g[12] = (unsigned char)(n - 13);
        }
        event ev;
        char err[256] = "";
        int rc = decode(g, n, "", &scratch, &ev, NULL, err, sizeof err);
        if (rc == 0)
            check_invariants("garbage", &ev);
        else if (rc != -EINVAL && rc != -EPROTONOSUPPORT)
            fail_msg("garbage round %d: rc %d (%s)", round, rc, err);
    }
    buf_free(&scratch);
}

/* ---- buffers and memory ------------------------------------------------------------------ */

static void scratch_limits_and_allocation_failure(void **state)
{
    (void)state;
    event ev, sentinel;
    char err[256];
    memset(&ev, 0x5a, sizeof ev);
    memcpy(&sentinel, &ev, sizeof ev);

    /* Too small a scratch: -E2BIG, the record untouched. */
    buf small;
    buf_init(&small, 64);
    assert_int_equal(decode(A(v2c_types), "", &small, &ev, NULL, err, sizeof err), -E2BIG);
    assert_memory_equal(&ev, &sentinel, sizeof ev);
    assert_string_equal(err, "scratch buffer full");
    buf_free(&small);

    /* Every allocation failing in turn: -ENOMEM, the record untouched, no response, no leak
     * (checked under ASan); then success. */
    for (long n = 0;; n++) {
        buf s, r;
        buf_init(&s, 0);
        buf_init(&r, 0);
        memset(&ev, 0x5a, sizeof ev);
        mem_fail_after(n);
        int rc = decode(A(v2c_inform_big), "", &s, &ev, &r, err, sizeof err);
        mem_fail_after(-1);
        if (rc == 0) {
            assert_string_equal(ev.app, "nsNotifyRestart");
            assert_int_equal(r.len, sizeof v2c_inform_big_resp_netsnmp);
            buf_free(&s);
            buf_free(&r);
            assert_true(n >= 2); /* scratch and response both allocate */
            break;
        }
        assert_int_equal(rc, -ENOMEM);
        assert_memory_equal(&ev, &sentinel, sizeof ev);
        assert_int_equal(r.len, 0);
        buf_free(&s);
        buf_free(&r);
        assert_true(n < 100);
    }

    /* Once the buffers have grown, decoding allocates nothing. */
    buf s, r;
    buf_init(&s, 0);
    buf_init(&r, 0);
    assert_int_equal(decode(A(v2c_inform_big), "", &s, &ev, &r, err, sizeof err), 0);
    unsigned long before = mem_allocations();
    for (int i = 0; i < 100; i++)
        assert_int_equal(decode(A(v2c_inform_big), "", &s, &ev, &r, err, sizeof err), 0);
    assert_int_equal(mem_allocations(), before);
    buf_free(&s);
    buf_free(&r);

    /* err may be NULL or tiny. */
    buf_init(&s, 0);
    assert_int_equal(decode(A(v3_trap), "", &s, &ev, NULL, NULL, 0), -EPROTONOSUPPORT);
    assert_int_equal(decode((const unsigned char *)"x", 1, "", &s, &ev, NULL, NULL, 0), -EINVAL);
    char tiny[4];
    assert_int_equal(decode((const unsigned char *)"x", 1, "", &s, &ev, NULL, tiny, sizeof tiny),
                     -EINVAL);
    assert_string_equal(tiny, "byt");
    buf_free(&s);
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* DD_BENCH=1: decodes per second of the captured datagrams. */
static void bench(void **state)
{
    (void)state;
    if (!getenv("DD_BENCH"))
        return;
    static const struct {
        const char *name;
        const unsigned char *in;
        size_t len;
    } dg[] = {{"v1_linkdown", A(v1_linkdown)},
              {"v2c_linkup", A(v2c_linkup)},
              {"v2c_types", A(v2c_types)},
              {"v2c_inform_big", A(v2c_inform_big)}};
    buf s, r;
    buf_init(&s, 0);
    buf_init(&r, 0);
    for (size_t i = 0; i < sizeof dg / sizeof dg[0]; i++) {
        event ev;
        long rounds = 200000;
        double t0 = cpu_s();
        for (long k = 0; k < rounds; k++)
            snmptrap_decode(dg[i].in, dg[i].len, "", SRC, NOW_MS, &s, &ev, &r, NULL, 0);
        double dt = cpu_s() - t0;
        printf("%-16s %4zu bytes  %6.2f M decodes/s  %.0f ns each\n", dg[i].name, dg[i].len,
               (double)rounds / dt / 1e6, dt / (double)rounds * 1e9);
    }
    buf_free(&s);
    buf_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(real_datagrams),
        cmocka_unit_test(inform_response),
        cmocka_unit_test(communities),
        cmocka_unit_test(versions_and_pdus),
        cmocka_unit_test(values),
        cmocka_unit_test(notification_names_and_severities),
        cmocka_unit_test(hosts_and_titles),
        cmocka_unit_test(hostile_bytes),
        cmocka_unit_test(hostile_values),
        cmocka_unit_test(hostile_sizes),
        cmocka_unit_test(truncations_and_mutations),
        cmocka_unit_test(garbage),
        cmocka_unit_test(scratch_limits_and_allocation_failure),
        cmocka_unit_test(bench),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
