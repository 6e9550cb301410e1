using System.Collections.Concurrent;
using Cinnabar.Server.Storage;

namespace Cinnabar.Server.Network;

/// <summary>
/// The single-threaded event loop: epoll over the listening sockets, the clients and a wake-up eventfd.
/// Every command runs here, in arrival order, which gives the total order of writes Redis relies on.
/// Work from other threads (signals, later the cluster bus) is posted and runs between events.
/// </summary>
public sealed unsafe class EventLoop
{
    const int MaxEvents = 1024;
    const ulong WakeTag = ulong.MaxValue;
    const ulong ListenerTagBase = 1UL << 40;
    const ulong HandlerTagBase = 1UL << 41;

    readonly CinnabarServer server;
    readonly int epfd;
    readonly int wakeFd;
    readonly List<int> listeners = new();
    readonly Dictionary<int, Action<uint>> fileHandlers = new();
    Client[] clientsByFd = new Client[1024];
    readonly List<Client> pendingWrites = new();
    readonly ConcurrentQueue<Action> posted = new();
    public bool Stopping;
    public long NextCronTicks;
    public long NextWakeTicks;   // an earlier wake-up than cron (a blocked client's deadline)

    public EventLoop(CinnabarServer server)
    {
        this.server = server;
        epfd = Native.epoll_create1(Native.EFD_CLOEXEC);
        wakeFd = Native.eventfd(0, Native.EFD_NONBLOCK | Native.EFD_CLOEXEC);
        var ev = new Native.EpollEvent { Events = Native.EPOLLIN, Data = WakeTag };
        Native.epoll_ctl(epfd, Native.EPOLL_CTL_ADD, wakeFd, &ev);
    }

    /// <summary>Binds and listens; returns null or the error text Redis logs ("bind: Address already in use").</summary>
    public string Listen(string host, int port, int backlog)
    {
        byte* sa = stackalloc byte[28];
        int len = Native.MakeSockaddr(host, port, sa);
        if (len == 0) return "Invalid argument";
        int fd = Native.socket(len == 16 ? Native.AF_INET : Native.AF_INET6, Native.SOCK_STREAM | Native.SOCK_NONBLOCK | Native.SOCK_CLOEXEC, 0);
        if (fd < 0) return "socket: " + ErrnoText(Native.Errno);
        Native.SetIntOption(fd, Native.SOL_SOCKET, Native.SO_REUSEADDR, 1);
        if (len == 28) Native.SetIntOption(fd, Native.IPPROTO_IPV6, Native.IPV6_V6ONLY, 1);
        if (Native.bind(fd, sa, len) < 0)
        {
            int err = Native.Errno;
            Native.close(fd);
            return "bind: " + ErrnoText(err);
        }
        if (Native.listen(fd, backlog) < 0)
        {
            int err = Native.Errno;
            Native.close(fd);
            return "listen: " + ErrnoText(err);
        }
        var ev = new Native.EpollEvent { Events = Native.EPOLLIN, Data = ListenerTagBase + (ulong)fd };
        Native.epoll_ctl(epfd, Native.EPOLL_CTL_ADD, fd, &ev);
        listeners.Add(fd);
        return null;
    }

    public static string ErrnoText(int errno) => errno switch
    {
        98 => "Address already in use",
        99 => "Cannot assign requested address",
        13 => "Permission denied",
        97 => "Address family not supported by protocol",
        22 => "Invalid argument",
        111 => "Connection refused",
        110 => "Connection timed out",
        104 => "Connection reset by peer",
        113 => "No route to host",
        101 => "Network is unreachable",
        32 => "Broken pipe",
        _ => "errno " + errno,
    };

    public void CloseListeners()
    {
        foreach (int fd in listeners) Native.close(fd);
        listeners.Clear();
    }

    /// <summary>Runs an action on the loop thread soon (thread-safe).</summary>
    public void Post(Action action)
    {
        posted.Enqueue(action);
        ulong one = 1;
        Native.write(wakeFd, (byte*)&one, 8);
    }

    public void Run()
    {
        var events = new Native.EpollEvent[MaxEvents];
        fixed (Native.EpollEvent* ev = events)
        {
            while (!Stopping)
            {
                long now = Environment.TickCount64;
                long wake = NextWakeTicks > 0 && NextWakeTicks < NextCronTicks ? NextWakeTicks : NextCronTicks;
                NextWakeTicks = 0;
                int timeout = (int)Math.Clamp(wake - now, 0, 1000);
                if (pendingWrites.Count > 0 || server.BackgroundWorkPending) timeout = 0;
                int n = Native.epoll_wait(epfd, ev, MaxEvents, timeout);
                if (n < 0 && Native.Errno != Native.EINTR) throw new InvalidOperationException("epoll_wait failed: " + Native.Errno);
                Clock.Update();
                long passStart = System.Diagnostics.Stopwatch.GetTimestamp();
                Dispatch(ev, n);
                if (Environment.TickCount64 >= NextCronTicks) server.Cron();
                Clock.Update();
                BeforeSleep();
                server.StepBackgroundJobs(n > 0 ? System.Diagnostics.Stopwatch.GetTimestamp() - passStart : -1);
            }
        }
    }

    void Dispatch(Native.EpollEvent* ev, int n)
    {
        for (int i = 0; i < n; i++)
        {
            ulong tag = ev[i].Data;
            uint flags = ev[i].Events;
            if (tag == WakeTag) { DrainWake(); continue; }
            if (tag >= HandlerTagBase)
            {
                if (fileHandlers.TryGetValue((int)(tag - HandlerTagBase), out var handler)) handler(flags);
                continue;
            }
            if (tag >= ListenerTagBase) { AcceptAll((int)(tag - ListenerTagBase)); continue; }
            var c = clientsByFd[(int)tag];
            if (c == null) continue;
            if ((flags & (Native.EPOLLIN | Native.EPOLLERR | Native.EPOLLHUP)) != 0) HandleReadable(c);
            if ((flags & Native.EPOLLOUT) != 0 && (c.Flags & ClientFlags.Closed) == 0)
            {
                server.FlushAofBeforeReplies();   // a reply never leaves before the write it acknowledges
                WriteToClient(c);
            }
        }
    }

    // ---- processEventsWhileBlocked (a script running past busy-reply-threshold) ----

    Native.EpollEvent[] blockedEvents;
    bool whileBlocked;

    /// <summary>
    /// Serves other clients from inside a long-running script (called by its hook): a few non-blocking
    /// rounds of accept, read, run and write. The script's own client is Protected: not read, not freed.
    /// </summary>
    public void ProcessEventsWhileBlocked()
    {
        if (whileBlocked) return;
        whileBlocked = true;
        try
        {
            blockedEvents ??= new Native.EpollEvent[MaxEvents];
            fixed (Native.EpollEvent* ev = blockedEvents)
            {
                for (int round = 0; round < 4; round++)
                {
                    int n = Native.epoll_wait(epfd, ev, MaxEvents, 0);
                    if (n <= 0) break;
                    Clock.Update();
                    Dispatch(ev, n);
                    FlushPendingWrites();
                }
            }
            FlushPendingWrites();
        }
        finally { whileBlocked = false; }
    }

    // ---- other file descriptors (the replica's link to its master during the handshake and transfer) ----

    /// <summary>aeCreateFileEvent: watches <paramref name="fd"/> for <paramref name="events"/> (EPOLLIN/EPOLLOUT), replacing any handler it had.</summary>
    public void SetFileEvent(int fd, uint events, Action<uint> handler)
    {
        var ev = new Native.EpollEvent { Events = events, Data = HandlerTagBase + (ulong)fd };
        bool known = fileHandlers.ContainsKey(fd);
        fileHandlers[fd] = handler;
        Native.epoll_ctl(epfd, known ? Native.EPOLL_CTL_MOD : Native.EPOLL_CTL_ADD, fd, &ev);
    }

    /// <summary>aeDeleteFileEvent: stops watching the fd (the caller closes it or hands it to <see cref="AdoptClient"/>).</summary>
    public void RemoveFileEvent(int fd)
    {
        if (!fileHandlers.Remove(fd)) return;
        Native.epoll_ctl(epfd, Native.EPOLL_CTL_DEL, fd, null);
    }

    /// <summary>Serves a client made for a connection the server opened itself (the master link after a sync).</summary>
    public void AdoptClient(Client c)
    {
        if (c.Fd >= clientsByFd.Length) Array.Resize(ref clientsByFd, Math.Max(c.Fd + 1, clientsByFd.Length * 2));
        clientsByFd[c.Fd] = c;
        var ev = new Native.EpollEvent { Events = Native.EPOLLIN, Data = (ulong)c.Fd };
        Native.epoll_ctl(epfd, Native.EPOLL_CTL_ADD, c.Fd, &ev);
    }

    void DrainWake()
    {
        ulong value;
        Native.read(wakeFd, (byte*)&value, 8);
        while (posted.TryDequeue(out var action)) action();
    }

    void AcceptAll(int listenFd)
    {
        byte* sa = stackalloc byte[128];
        for (int k = 0; k < 1000; k++)
        {
            int len = 128;
            int fd = Native.accept4(listenFd, sa, &len, Native.SOCK_NONBLOCK | Native.SOCK_CLOEXEC);
            if (fd < 0) return;
            string addr = Native.FormatSockaddr(sa);
            len = 128;
            Native.getsockname(fd, sa, &len);
            string laddr = Native.FormatSockaddr(sa);
            Native.SetIntOption(fd, Native.IPPROTO_TCP, Native.TCP_NODELAY, 1);
            int keepalive = server.Settings.TcpKeepalive;
            if (keepalive > 0)
            {
                Native.SetIntOption(fd, Native.SOL_SOCKET, Native.SO_KEEPALIVE, 1);
                Native.SetIntOption(fd, Native.IPPROTO_TCP, Native.TCP_KEEPIDLE, keepalive);
                Native.SetIntOption(fd, Native.IPPROTO_TCP, Native.TCP_KEEPINTVL, Math.Max(1, keepalive / 3));
                Native.SetIntOption(fd, Native.IPPROTO_TCP, Native.TCP_KEEPCNT, 3);
            }
            if (server.Clients.Count >= server.Settings.MaxClients)
            {
                var msg = "-ERR max number of clients reached\r\n"u8;
                fixed (byte* p = msg) Native.send(fd, p, msg.Length, Native.MSG_NOSIGNAL);
                Native.close(fd);
                server.Stats.RejectedConnections++;
                continue;
            }
            var c = server.CreateClient(fd, addr, laddr);
            if (fd >= clientsByFd.Length) Array.Resize(ref clientsByFd, Math.Max(fd + 1, clientsByFd.Length * 2));
            clientsByFd[fd] = c;
            var ev = new Native.EpollEvent { Events = Native.EPOLLIN, Data = (ulong)fd };
            Native.epoll_ctl(epfd, Native.EPOLL_CTL_ADD, fd, &ev);
        }
    }

    void HandleReadable(Client c)
    {
        if ((c.Flags & ClientFlags.Protected) != 0) return;   // mid-script: its next command waits
        if ((c.Flags & (ClientFlags.CloseAfterReply | ClientFlags.CloseAsap)) != 0)
        {
            // Redis stops reading from a client it will close; drain nothing, just wait for the reply to go out.
            return;
        }
        var req = c.Request;
        int want = req.WantedReadSize();
        var space = req.ReceiveSpace(want);
        int toRead = Math.Min(space.Length, want);
        nint n;
        fixed (byte* p = space) n = Native.read(c.Fd, p, toRead);
        if (n == 0) { FreeClient(c); return; }
        if (n < 0)
        {
            int err = Native.Errno;
            if (err == Native.EAGAIN || err == Native.EINTR) return;
            FreeClient(c);
            return;
        }
        req.Committed((int)n);
        server.Stats.NetInputBytes += n;
        server.Stats.ReadsProcessed++;
        c.LastInteractionMs = Clock.NowMs;
        server.ProcessInput(c);
        if ((c.Flags & ClientFlags.Closed) != 0) return;
        if (req.Unconsumed > server.Settings.ClientQueryBufferLimit)
        {
            server.Log.Warning($"Closing client that reached max query buffer length: {server.ClientInfoLine(c)} (qbuf initial bytes: {QueryPreview(c)})");
            FreeClient(c);
        }
    }

    static string QueryPreview(Client c)
    {
        var req = c.Request;
        var span = req.Buffer.AsSpan(req.Start, Math.Min(64, req.Unconsumed));
        return "\"" + Config.Repr.Escape(span) + "\"";
    }

    /// <summary>Queues the client's reply to be written before the loop next sleeps.</summary>
    public void MarkPendingWrite(Client c)
    {
        if ((c.Flags & (ClientFlags.PendingWrite | ClientFlags.Closed)) != 0) return;
        c.Flags |= ClientFlags.PendingWrite;
        pendingWrites.Add(c);
    }

    void BeforeSleep()
    {
        FlushPendingWrites();
        server.BeforeSleep();
    }

    void FlushPendingWrites()
    {
        server.FlushAofBeforeReplies();   // beforeSleep: the AOF is written (and fsynced with always) before replies go out
        for (int i = 0; i < pendingWrites.Count; i++)
        {
            var c = pendingWrites[i];
            c.Flags &= ~ClientFlags.PendingWrite;
            if ((c.Flags & ClientFlags.Closed) != 0) continue;
            if ((c.Flags & ClientFlags.CloseAsap) != 0) { FreeClient(c); continue; }
            WriteToClient(c);
        }
        pendingWrites.Clear();
    }

    void WriteToClient(Client c)
    {
        var reply = c.Reply;
        int refills = 0;
    again:
        while (reply.Pending > 0)
        {
            nint n;
            fixed (byte* p = &reply.Buffer[reply.Sent]) n = Native.send(c.Fd, p, reply.Pending, Native.MSG_NOSIGNAL);
            if (n < 0)
            {
                int err = Native.Errno;
                if (err == Native.EAGAIN)
                {
                    WaitWritable(c);
                    return;
                }
                if (err == Native.EINTR) continue;
                FreeClient(c);
                return;
            }
            reply.Sent += (int)n;
            if (c.ReplicaLink is { IsReplica: true }) server.Stats.NetReplOutputBytes += n;
            else server.Stats.NetOutputBytes += n;
        }
        server.Stats.WritesProcessed++;
        reply.Drained();
        // A replica being sent its RDB (from the file or the diskless transfer) gets the next piece now; after a
        // few pieces the loop moves on (other clients wait less) and comes back when the socket is writable.
        if (c.ReplicaLink is { NeedsRefill: true })
        {
            if (++refills > 4)
            {
                WaitWritable(c);
                return;
            }
            if (server.Repl.Master.Refill(c)) goto again;
        }
        if ((c.Flags & ClientFlags.WriteRegistered) != 0)
        {
            c.Flags &= ~ClientFlags.WriteRegistered;
            var ev = new Native.EpollEvent { Events = Native.EPOLLIN, Data = (ulong)c.Fd };
            Native.epoll_ctl(epfd, Native.EPOLL_CTL_MOD, c.Fd, &ev);
        }
        if ((c.Flags & (ClientFlags.CloseAfterReply | ClientFlags.CloseAsap)) != 0) FreeClient(c);
    }

    void WaitWritable(Client c)
    {
        if ((c.Flags & ClientFlags.WriteRegistered) != 0) return;
        c.Flags |= ClientFlags.WriteRegistered;
        var ev = new Native.EpollEvent { Events = Native.EPOLLIN | Native.EPOLLOUT, Data = (ulong)c.Fd };
        Native.epoll_ctl(epfd, Native.EPOLL_CTL_MOD, c.Fd, &ev);
    }

    /// <summary>flushSlavesOutputBuffers: at shutdown, what online replicas have pending goes out if the socket takes it.</summary>
    public void FlushReplicas()
    {
        foreach (var r in server.Repl.Master.Replicas.ToArray())
        {
            var c = r.Client;
            if (r.Streaming && c.Reply.Pending > 0 && (c.Flags & ClientFlags.Closed) == 0) WriteToClient(c);
        }
    }

    /// <summary>Writes whatever is pending without waiting (shutdown path).</summary>
    public void FlushAll()
    {
        foreach (var c in server.Clients.Values.ToArray())
            if (c.Reply.Pending > 0 && (c.Flags & ClientFlags.Closed) == 0) WriteToClient(c);
    }

    public void FreeClient(Client c)
    {
        if ((c.Flags & ClientFlags.Closed) != 0) return;
        if ((c.Flags & ClientFlags.Protected) != 0)
        {
            c.Flags |= ClientFlags.CloseAsap;   // freed once its script ends
            return;
        }
        c.Flags |= ClientFlags.Closed;
        Native.epoll_ctl(epfd, Native.EPOLL_CTL_DEL, c.Fd, null);
        Native.close(c.Fd);
        if (c.Fd < clientsByFd.Length && clientsByFd[c.Fd] == c) clientsByFd[c.Fd] = null;
        server.ClientClosed(c);
        c.Request.Release();
        c.Reply.Release();
    }
}
