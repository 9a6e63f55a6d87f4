package io.layerd.sys;

/** What uname(2) reports. {@code release} is the kernel version, e.g. "6.1.0-18-amd64". */
public record Uname(
    String sysname, String nodename, String release, String version, String machine) {}
