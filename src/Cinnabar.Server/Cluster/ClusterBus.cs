using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Cinnabar.Server.Network;

namespace Cinnabar.Server.Cluster;

/// <summary>
/// The cluster bus: a listener on the bus port and the links to every node, served by an epoll loop on its own
/// thread. Why a thread of its own rather than the main event loop: the main loop runs commands to completion, and
/// a long Lua script, a big SUNIONSTORE or a DEBUG SLEEP would stop PING/PONG for as long, so a busy node would be
/// flagged PFAIL (then FAIL) by its peers although it is alive. Redis accepts that; we need not. The bus loop only
/// frames bytes and calls <see cref="ClusterState"/> under its lock; what must touch the keyspace is posted back to
/// the main loop. Messages are rare (about ten a second per peer), so the codec may allocate; the command path
/// never waits on this thread (it reads the published <see cref="ClusterView"/>).
/// </summary>
public sealed unsafe class ClusterBus
{
    const int MaxEvents = 256;
    const ulong WakeTag = ulong.MaxValue, ListenerTagBase = 1UL << 40;

    readonly ClusterState state;
    readonly Log log;
    readonly int epfd, wakeFd;
    readonly List<int> listeners = new();
    readonly Dictionary<int, ClusterLink> links = new();
    readonly HashSet<ClusterLink> pendingWrites = new();
    Thread thread;
    volatile bool stopping;
    long nextCron;
    int wakePending;

    public ClusterBus(ClusterState state, Log log)
    {
        this.state = state;
        this.log = log;
        epfd = Native.epoll_create1(Native.EFD_CLOEXEC);
        wakeFd = Native.eventfd(0, Native.EFD_NONBLOCK | Native.EFD_CLOEXEC);
        var ev = new Native.EpollEvent { Events = Native.EPOLLIN, Data = WakeTag };
        Native.epoll_ctl(epfd, Native.EPOLL_CTL_ADD, wakeFd, &ev);
    }

    public IEnumerable<ClusterLink> Links => links.Values;

    /// <summary>Binds the bus port on each address; null or Redis's error text.</summary>
    public string Listen(string host, int port, int backlog)
    {
        byte* sa = stackalloc byte[28];
        int len = Native.MakeSockaddr(host, port, sa);
        if (len == 0) return "Invalid argument";
        int fd = Native.socket(len == 16 ? Native.AF_INET : Native.AF_INET6, Native.SOCK_STREAM | Native.SOCK_NONBLOCK | Native.SOCK_CLOEXEC, 0);
        if (fd < 0) return "socket: " + EventLoop.ErrnoText(Native.Errno);
        Native.SetIntOption(fd, Native.SOL_SOCKET, Native.SO_REUSEADDR, 1);
        if (len == 28) Native.SetIntOption(fd, Native.IPPROTO_IPV6, Native.IPV6_V6ONLY, 1);
        if (Native.bind(fd, sa, len) < 0 || Native.listen(fd, backlog) < 0)
        {
            int err = Native.Errno;
            Native.close(fd);
            return "bind: " + EventLoop.ErrnoText(err);
        }
        var ev = new Native.EpollEvent { Events = Native.EPOLLIN, Data = ListenerTagBase + (ulong)fd };
        Native.epoll_ctl(epfd, Native.EPOLL_CTL_ADD, fd, &ev);
        listeners.Add(fd);
        return null;
    }

    public void Start()
    {
        thread = new Thread(Run) { IsBackground = true, Name = "cluster-bus" };
        thread.Start();
    }

    /// <summary>Wakes the bus thread so it flushes what another thread queued (thread-safe).</summary>
    public void Wake()
    {
        if (Interlocked.Exchange(ref wakePending, 1) == 1) return;
        ulong one = 1;
        Native.write(wakeFd, (byte*)&one, 8);
    }

    void Run()
    {
        var events = new Native.EpollEvent[MaxEvents];
        fixed (Native.EpollEvent* ev = events)
        {
            while (!stopping)
            {
                long now = Environment.TickCount64;
                int timeout = (int)Math.Clamp(nextCron - now, 0, 100);
                int n = Native.epoll_wait(epfd, ev, MaxEvents, timeout);
                if (n < 0 && Native.Errno != Native.EINTR) { Thread.Sleep(10); continue; }
                lock (state.Sync)
                {
                    try
                    {
                        for (int i = 0; i < n; i++) Dispatch(ev[i].Data, ev[i].Events);
                        if (Environment.TickCount64 >= nextCron)
                        {
                            nextCron = Environment.TickCount64 + 100;
                            state.Cron();
                        }
                        state.AfterChanges();
                        FlushPending();
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        // A bug in one message's handling must not stop the bus (and the node's liveness).
                        log.Warning($"Internal error in the cluster bus: {e}");
                    }
                }
            }
        }
    }

    void Dispatch(ulong tag, uint flags)
    {
        if (tag == WakeTag)
        {
            ulong value;
            Native.read(wakeFd, (byte*)&value, 8);
            Interlocked.Exchange(ref wakePending, 0);
            return;
        }
        if (tag >= ListenerTagBase)
        {
            Accept((int)(tag - ListenerTagBase));
            return;
        }
        if (!links.TryGetValue((int)tag, out var link)) return;
        if (link.Connecting)
        {
            if ((flags & (Native.EPOLLOUT | Native.EPOLLERR | Native.EPOLLHUP)) == 0) return;
            int err = 0, len = sizeof(int);
            Native.getsockopt(link.Fd, Native.SOL_SOCKET, Native.SO_ERROR, &err, &len);
            if (err != 0 || (flags & (Native.EPOLLERR | Native.EPOLLHUP)) != 0)
            {
                log.Verbose($"Connection with Node {link.Node?.Name} at {link.Node?.Ip}:{link.Node?.CPort} failed: {Marshal.GetPInvokeErrorMessage(err)}");
                if (link.Node != null && link.Node.PingSent == 0) link.Node.PingSent = ClusterState.Now();
                FreeLink(link);
                return;
            }
            link.Connecting = false;
            link.LocalIp = LocalAddress(link.Fd);
            SetWriteInterest(link, false);
            state.LinkConnected(link);
            return;
        }
        if ((flags & (Native.EPOLLIN | Native.EPOLLERR | Native.EPOLLHUP)) != 0) Read(link);
        if (!link.Freed && (flags & Native.EPOLLOUT) != 0) Write(link);
    }

    void Accept(int listenFd)
    {
        byte* sa = stackalloc byte[128];
        for (int k = 0; k < 1000; k++)
        {
            int len = 128;
            int fd = Native.accept4(listenFd, sa, &len, Native.SOCK_NONBLOCK | Native.SOCK_CLOEXEC);
            if (fd < 0) return;
            Native.SetIntOption(fd, Native.IPPROTO_TCP, Native.TCP_NODELAY, 1);
            int keepalive = (int)Math.Max(1, state.NodeTimeoutMs / 1000 * 2);
            Native.SetIntOption(fd, Native.SOL_SOCKET, Native.SO_KEEPALIVE, 1);
            Native.SetIntOption(fd, Native.IPPROTO_TCP, Native.TCP_KEEPIDLE, keepalive);
            Native.SetIntOption(fd, Native.IPPROTO_TCP, Native.TCP_KEEPINTVL, Math.Max(1, keepalive / 3));
            Native.SetIntOption(fd, Native.IPPROTO_TCP, Native.TCP_KEEPCNT, 3);
            var link = new ClusterLink(null, inbound: true, ClusterState.Now())
            {
                Fd = fd,
                PeerIp = HostOf(Native.FormatSockaddr(sa)),
                LocalIp = LocalAddress(fd),
            };
            links[fd] = link;
            var ev = new Native.EpollEvent { Events = Native.EPOLLIN, Data = (ulong)fd };
            Native.epoll_ctl(epfd, Native.EPOLL_CTL_ADD, fd, &ev);
            log.Verbose($"Accepting cluster node connection from {link.PeerIp}:{PortOf(Native.FormatSockaddr(sa))}");
        }
    }

    static string LocalAddress(int fd)
    {
        byte* sa = stackalloc byte[128];
        int len = 128;
        if (Native.getsockname(fd, sa, &len) < 0) return "";
        return HostOf(Native.FormatSockaddr(sa));
    }

    static string HostOf(string addrPort)
    {
        int colon = addrPort.LastIndexOf(':');
        string host = colon < 0 ? addrPort : addrPort[..colon];
        if (host.StartsWith("::ffff:") && host.Contains('.')) host = host[7..];
        return host;
    }

    static string PortOf(string addrPort) => addrPort[(addrPort.LastIndexOf(':') + 1)..];

    /// <summary>Starts a non-blocking connect to the node's bus port; false on an immediate failure.</summary>
    public bool Connect(ClusterNode node)
    {
        byte* sa = stackalloc byte[28];
        int len = Native.MakeSockaddr(node.Ip, node.CPort, sa);
        if (len == 0) return false;
        int fd = Native.socket(len == 16 ? Native.AF_INET : Native.AF_INET6, Native.SOCK_STREAM | Native.SOCK_NONBLOCK | Native.SOCK_CLOEXEC, 0);
        if (fd < 0) return false;
        Native.SetIntOption(fd, Native.IPPROTO_TCP, Native.TCP_NODELAY, 1);
        int rc = BusNative.connect(fd, sa, len);
        if (rc < 0 && Native.Errno != Native.EINPROGRESS)
        {
            int err = Native.Errno;
            Native.close(fd);
            log.Verbose($"Unable to connect to Cluster Node [{node.Ip}]:{node.CPort} -> {Marshal.GetPInvokeErrorMessage(err)}");
            return false;
        }
        var link = new ClusterLink(node, inbound: false, ClusterState.Now()) { Fd = fd, Connecting = true, PeerIp = node.Ip };
        links[fd] = link;
        node.Link = link;
        var ev = new Native.EpollEvent { Events = Native.EPOLLIN | Native.EPOLLOUT, Data = (ulong)fd };
        Native.epoll_ctl(epfd, Native.EPOLL_CTL_ADD, fd, &ev);
        link.WriteRegistered = true;
        return true;
    }

    /// <summary>freeClusterLink: closes the socket and detaches the link from its node.</summary>
    public void FreeLink(ClusterLink link)
    {
        if (link.Freed) return;
        link.Freed = true;
        Native.epoll_ctl(epfd, Native.EPOLL_CTL_DEL, link.Fd, null);
        Native.close(link.Fd);
        links.Remove(link.Fd);
        pendingWrites.Remove(link);
        state.LinkFreed(link);
    }

    /// <summary>Appends a message to a link's send buffer; it is written at the end of the current batch.</summary>
    public void Queue(ClusterLink link, byte[] msg)
    {
        if (link == null || link.Freed) return;
        link.Queue(msg);
        pendingWrites.Add(link);
        if (Thread.CurrentThread != thread) Wake();
    }

    void FlushPending()
    {
        if (pendingWrites.Count == 0) return;
        foreach (var link in pendingWrites.ToArray())
        {
            pendingWrites.Remove(link);
            if (!link.Freed && !link.Connecting) Write(link);
        }
    }

    void Read(ClusterLink link)
    {
        while (!link.Freed)
        {
            // Read the 8-byte preamble first, then exactly the rest of the message (clusterReadHandler).
            int want;
            if (link.RecvLen < 8) want = 8 - link.RecvLen;
            else
            {
                uint totlen = BinaryPrimitives.ReadUInt32BigEndian(link.Recv.AsSpan(4));
                want = (int)totlen - link.RecvLen;
            }
            nint n;
            fixed (byte* p = &link.Recv[link.RecvLen]) n = Native.read(link.Fd, p, want);
            if (n == 0)
            {
                log.Verbose($"I/O error reading from node link: connection closed");
                FreeLink(link);
                return;
            }
            if (n < 0)
            {
                int err = Native.Errno;
                if (err == Native.EAGAIN || err == Native.EINTR) return;
                log.Verbose($"I/O error reading from node link: {Marshal.GetPInvokeErrorMessage(err)}");
                FreeLink(link);
                return;
            }
            link.RecvLen += (int)n;
            if (link.RecvLen == 8)
            {
                var head = link.Recv.AsSpan(0, 8);
                uint totlen = BinaryPrimitives.ReadUInt32BigEndian(head[4..]);
                if (!head[..4].SequenceEqual("RCmb"u8) || totlen < BusMessage.HeaderSize)
                {
                    log.Verbose("Bad message length or signature received from Cluster bus.");
                    FreeLink(link);
                    return;
                }
                if (totlen > link.Recv.Length) Array.Resize(ref link.Recv, (int)Math.Min(totlen, int.MaxValue));
                continue;
            }
            if (link.RecvLen >= 8 && link.RecvLen == (int)BinaryPrimitives.ReadUInt32BigEndian(link.Recv.AsSpan(4)))
            {
                int len = link.RecvLen;
                link.RecvLen = 0;
                if (!state.ProcessPacket(link, link.Recv, len)) return;
                if (link.Recv.Length > 65536) link.Recv = new byte[4096];
            }
        }
    }

    void Write(ClusterLink link)
    {
        while (link.SendUsed > 0)
        {
            nint n;
            fixed (byte* p = &link.Send[link.SendStart]) n = Native.send(link.Fd, p, link.SendUsed, Native.MSG_NOSIGNAL);
            if (n < 0)
            {
                int err = Native.Errno;
                if (err == Native.EINTR) continue;
                if (err == Native.EAGAIN)
                {
                    SetWriteInterest(link, true);
                    return;
                }
                log.Verbose($"I/O error writing to node link: {Marshal.GetPInvokeErrorMessage(err)}");
                FreeLink(link);
                return;
            }
            link.SendStart += (int)n;
        }
        link.SendStart = link.SendEnd = 0;
        link.Send = Array.Empty<byte>();
        SetWriteInterest(link, false);
    }

    void SetWriteInterest(ClusterLink link, bool on)
    {
        if (link.WriteRegistered == on) return;
        link.WriteRegistered = on;
        var ev = new Native.EpollEvent { Events = Native.EPOLLIN | (on ? Native.EPOLLOUT : 0), Data = (ulong)link.Fd };
        Native.epoll_ctl(epfd, Native.EPOLL_CTL_MOD, link.Fd, &ev);
    }

    /// <summary>Closes every link and the listeners (CLUSTER RESET keeps the listeners).</summary>
    public void Stop()
    {
        stopping = true;
        Wake();
    }
}

internal static unsafe class BusNative
{
    [DllImport("libc", SetLastError = true)] public static extern int connect(int fd, byte* addr, int len);
    [DllImport("libc", SetLastError = true)] public static extern int open([MarshalAs(UnmanagedType.LPStr)] string path, int flags, int mode);
    [DllImport("libc", SetLastError = true)] public static extern int flock(int fd, int operation);
    [DllImport("libc", SetLastError = true)] public static extern int fsync(int fd);
    [DllImport("libc", SetLastError = true)] public static extern nint pwrite(int fd, byte* buf, nint count, long offset);
    [DllImport("libc", SetLastError = true)] public static extern int ftruncate(int fd, long length);
    public const int O_WRONLY = 1, O_CREAT = 0x40, O_RDONLY = 0;
    public const int LOCK_EX = 2, LOCK_NB = 4, EWOULDBLOCK = 11;
}
